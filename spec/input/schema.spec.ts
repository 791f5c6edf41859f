/** The published schema is exactly what the reader accepts, and the bundled examples use only its keys. */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { specJsonSchema } from "../../lib/input/schema.js";
import { readSpec } from "../../lib/input/spec.js";
import { oraclesAvailable, run } from "../support/oracles.js";

const examples = readdirSync("examples").filter((name) => existsSync(join("examples", name, "spec.json")));

describe("spec JSON Schema", () => {
  it("schema/spec.schema.json is up to date (regenerate with `gptimg schema > schema/spec.schema.json`)", () => {
    expect(JSON.parse(readFileSync("schema/spec.schema.json", "utf8"))).toEqual(specJsonSchema());
  });
  it("every bundled example reads without errors and uses only schema keys", () => {
    const schema = specJsonSchema() as { properties: Record<string, unknown> & { partitions: { items: { properties: Record<string, unknown> } } } };
    for (const example of examples) {
      const path = join("examples", example, "spec.json");
      const json = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown> & { partitions: Array<Record<string, unknown>> };
      for (const key of Object.keys(json)) expect(Object.keys(schema.properties), `${path}: ${key}`).toContain(key);
      for (const partition of json.partitions) for (const key of Object.keys(partition)) expect(Object.keys(schema.properties.partitions.items.properties), `${path}: ${key}`).toContain(key);
      // Slots add _empty partitions; inImage: false ones are made at first boot.
      const inImage = json.partitions.filter((partition) => partition["inImage"] !== false).length;
      const definitions = readSpec(path).definitions.length;
      expect(definitions).toBeGreaterThanOrEqual(inImage);
      if (!json.partitions.some((partition) => partition["slots"] !== undefined)) expect(definitions).toBe(inImage);
    }
  });
});

describe.skipIf(!oraclesAvailable("/usr/bin/python3"))("an independent JSON Schema validator (python3-jsonschema)", () => {
  it("accepts every bundled example and rejects broken specs", () => {
    const check = (spec: unknown): boolean => {
      const result = run("/usr/bin/python3", ["-c", "import json,sys,jsonschema; jsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).validate(json.load(sys.stdin))", "schema/spec.schema.json"], { input: JSON.stringify(spec) });
      if (result.status !== 0 && !result.stderr.includes("ValidationError")) throw new Error(result.stderr);
      return result.status === 0;
    };
    for (const example of examples) expect(check(JSON.parse(readFileSync(join("examples", example, "spec.json"), "utf8"))), example).toBe(true);
    expect(check({ partitions: [{ type: "esp", sizeMinByte: "1M" }] })).toBe(false);
    expect(check({ partitions: [{ type: "esp", verity: "maybe" }] })).toBe(false);
    expect(check({ size: "lots", partitions: [{ type: "esp" }] })).toBe(false);
    expect(check({ partitions: [] })).toBe(false);
    expect(check({ partitions: [{ type: "root", format: "ext4" }] })).toBe(false);
    expect(check({ partitions: [{ type: "root", format: "ext4", inImage: false }] })).toBe(true);
  });
});
