/** DER writer/reader: golden encodings from X.690 examples and round trips. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { toHex } from "../../lib/core/bytes.js";
import { childrenOf, decodeObjectIdentifier, encodeLength, integer, objectIdentifier, readTlv, readWhole, sequence, setOf, tlv } from "../../lib/crypto/der.js";
import { isGptimgError } from "../../lib/core/errors.js";

describe("DER", () => {
  it("encodes lengths in short and long form (X.690 §8.1.3)", () => {
    expect(toHex(encodeLength(0x7f))).toBe("7f");
    expect(toHex(encodeLength(0x80))).toBe("8180");
    expect(toHex(encodeLength(0x1234))).toBe("821234");
  });

  it("encodes OIDs and integers like openssl does", () => {
    expect(toHex(objectIdentifier("1.2.840.113549.1.7.2"))).toBe("06092a864886f70d010702");
    expect(toHex(objectIdentifier("2.16.840.1.101.3.4.2.1"))).toBe("0609608648016503040201");
    expect(toHex(integer(1))).toBe("020101");
    expect(toHex(integer(128))).toBe("02020080");
    expect(toHex(integer(0))).toBe("020100");
  });

  it("sorts SET OF members by their encoding (X.690 §11.6)", () => {
    expect(toHex(setOf([integer(2), integer(1), objectIdentifier("1.2.3")]))).toBe("310a" + "020101" + "020102" + "06022a03");
  });

  it("round-trips OIDs and nested structures", () => {
    fc.assert(fc.property(fc.array(fc.nat({ max: 2 ** 40 }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 39 }), (arcs, first, second) => {
      const dotted = [first, second, ...arcs].join(".");
      const node = readWhole(sequence(objectIdentifier(dotted), tlv(0x04, new Uint8Array(300))), 0x30, "test");
      const [oid, octets] = childrenOf(node, "test");
      expect(decodeObjectIdentifier(oid!)).toBe(dotted);
      expect(octets!.content.length).toBe(300);
    }));
  });

  it("reads BER indefinite lengths", () => {
    const node = readTlv(new Uint8Array([0x30, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00]), 0, "test");
    expect(node.raw.length).toBe(7);
    expect(childrenOf(node, "test").map((child) => toHex(child.raw))).toEqual(["020105"]);
  });

  it("fails with a one-line GptimgError on truncated or garbage input, never crashes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        const node = readWhole(bytes, 0x30, "sig.der");
        if (node.constructed) childrenOf(node, "sig.der");
      } catch (error) {
        expect(isGptimgError(error)).toBe(true);
        expect((error as Error).message).toMatch(/^sig\.der: /);
      }
    }), { numRuns: 500 });
  });
});
