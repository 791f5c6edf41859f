/**
 * Regression: the automatic size skipped the smallest fitting size.
 *
 * Root cause: mkfs.fat 4.2 rounds the volume down to whole tracks (32 or 63 sectors), so the
 * cluster count grows in steps of a track, not smoothly per 4 KiB grain. The size search jumps
 * ahead by the missing clusters less a small slack, and that slack (two clusters, for rounding
 * the FAT) did not cover a whole track: for this tree it jumped from a size lacking 30 clusters
 * straight past 128811008 bytes, which fits, and returned 128815104. The jump now also leaves
 * one track of margin.
 */
import { describe, expect, it } from "vitest";
import { planFat } from "../../../lib/formats/fat/plan.js";
import { ZeroSource } from "../../../lib/io/source.js";
import { TreeBuilder } from "../../../lib/tree/builder.js";
import { FILE_META } from "./support.js";

const MiB = 1024 * 1024;

describe("regression: automatic FAT size vs track rounding", () => {
  it("finds 128811008 bytes for the tree that used to get 128815104", () => {
    const builder = new TreeBuilder();
    for (let index = 0; index < 12; index++) builder.addFile(`EFI/Linux/uki-${index}.efi`, FILE_META, new ZeroSource(10 * MiB + index * 4099));
    for (let index = 0; index < 300; index++) builder.addFile(`loader/entries/entry with a long name ${index}.conf`, FILE_META, new ZeroSource(index * 13));
    const tree = builder.build();
    const options = { tree, sectorSize: 512 as const, label: "esp", volumeId: 1 };
    const plan = planFat({ ...options, minSizeBytes: 100 * MiB });
    expect(plan.sizeBytes).toBe(128811008);
    expect(() => planFat({ ...options, sizeBytes: plan.sizeBytes - 4096 })).toThrow(/needs at least 128811008 bytes/);
  });
});
