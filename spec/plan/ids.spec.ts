/** Golden vectors: repart-derived identities for seed 01234567-89ab-cdef-0123-456789abcdef (formats.md §2.1, verified with repart). */
import { describe, expect, it } from "vitest";
import { guidToBytes } from "../../lib/core/guid.js";
import { defaultLabel, deriveDiskGuid, deriveFilesystemUuid, derivePartitionUuid, fatVolumeId } from "../../lib/plan/ids.js";
import { resolvePartitionType } from "../../lib/formats/gpt/types.js";

const seed = guidToBytes("01234567-89ab-cdef-0123-456789abcdef");
const type = (name: string): string => resolvePartitionType(name, "x86-64")!.uuid;

describe("seed-derived identities (repart v245+ recipes)", () => {
  it("disk GUID", () => {
    expect(deriveDiskGuid(seed)).toBe("6913f4b6-6690-4a57-a202-f1b53c56dbdf");
  });
  it("partition UUIDs, including the instance counter for a second partition of one type", () => {
    expect(derivePartitionUuid(seed, type("esp"), 0)).toBe("b2d552b0-45db-4678-b34f-066168609d1a");
    expect(derivePartitionUuid(seed, type("root"), 0)).toBe("9e90c9c3-c7e8-44f2-bf19-9ae2689de795");
    expect(derivePartitionUuid(seed, type("root"), 1)).toBe("7f48db1a-b817-4c23-a5d2-cde068eb2163");
    expect(derivePartitionUuid(seed, type("var"), 0)).toBe("c0c46eff-e386-4746-a2bd-0962cd326ea2");
    expect(derivePartitionUuid(seed, type("root-verity-sig"), 0)).toBe("ca977224-9a98-40c9-bef7-eae884d35446");
  });
  it("filesystem UUID and FAT volume ID of the ESP", () => {
    const fsUuid = deriveFilesystemUuid("b2d552b0-45db-4678-b34f-066168609d1a");
    expect(fsUuid).toBe("5739c63f-aa2f-465b-b8da-bae50b7d9d59");
    expect(fatVolumeId(fsUuid).toString(16).toUpperCase()).toBe("5739C63F");
  });
  it("default labels get -2, -3 … against earlier labels only", () => {
    expect(defaultLabel("root-x86-64", [])).toBe("root-x86-64");
    expect(defaultLabel("root-x86-64", ["root-x86-64"])).toBe("root-x86-64-2");
    expect(defaultLabel("root-x86-64", ["root-x86-64", "root-x86-64-2"])).toBe("root-x86-64-3");
  });
});

describe("partition type identifiers", () => {
  it("resolves host-relative, explicit, alias and UUID forms", () => {
    expect(resolvePartitionType("root", "arm64")!.name).toBe("root-arm64");
    expect(resolvePartitionType("usr-verity-sig", "x86-64")!.uuid).toBe("e7bb33fb-06cf-4e81-8273-e543b413e2e2");
    expect(resolvePartitionType("root-amd64-verity", "arm64")!.name).toBe("root-x86-64-verity");
    expect(resolvePartitionType("root-secondary", "x86-64")!.name).toBe("root-x86");
    expect(resolvePartitionType("C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "x86-64")!.name).toBe("esp");
    expect(resolvePartitionType("root-mars", "x86-64")).toBeUndefined();
    expect(resolvePartitionType("rootfs", "x86-64")).toBeUndefined();
  });
});
