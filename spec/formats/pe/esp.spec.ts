import { describe, expect, it } from "vitest";
import { GptimgError } from "../../../lib/core/errors.js";
import { espTree, ukiFileName } from "../../../lib/formats/pe/esp.js";
import { BytesSource } from "../../../lib/io/source.js";
import type { DirNode } from "../../../lib/tree/tree.js";
import { makeTestPe } from "./fixture.js";

function paths(node: DirNode, prefix = ""): string[] {
  return node.entries.flatMap((entry) => {
    const path = `${prefix}${entry.name}`;
    return entry.node.kind === "dir" ? [`${path}/`, ...paths(entry.node, `${path}/`)] : [path];
  });
}

function expectError(action: () => unknown, pattern: RegExp): void {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(GptimgError);
    expect((error as Error).message).toMatch(pattern);
    return;
  }
  throw new Error("expected a GptimgError");
}

describe("ukiFileName (BLS boot counting)", () => {
  it("joins id, version and tries", () => {
    expect(ukiFileName({ id: "debian", version: "13.1", triesLeft: 3 })).toBe("debian_13.1+3.efi");
    expect(ukiFileName({ id: "debian", version: "13.1" })).toBe("debian_13.1.efi");
    expect(ukiFileName({ id: "fooOS" })).toBe("fooOS.efi");
  });
  it("rejects names boot counting or the loader cannot parse", () => {
    expectError(() => ukiFileName({ id: "a+b" }), /^boot\.uki\.id: "a\+b" may only contain/);
    expectError(() => ukiFileName({ id: "os", version: "1 2" }), /^boot\.uki\.version:/);
    expectError(() => ukiFileName({ id: "os", triesLeft: -1 }), /^boot\.uki\.triesLeft: -1/);
    expectError(() => ukiFileName({ id: "x".repeat(260) }), /at most 255/);
  });
});

describe("espTree", () => {
  const uki = (machine: number): BytesSource => new BytesSource(makeTestPe({ machine }), "uki");
  it("places systemd-boot by the architecture in its PE header (x64, aa64)", async () => {
    const x64 = await espTree({ systemdBoot: makeTestPe({ machine: 0x8664 }), uki: uki(0x8664), ukiFileName: "os_1+3.efi", loaderConf: "timeout 0\n", mtime: 1_704_067_200 });
    expect(paths(x64)).toEqual(["EFI/", "EFI/BOOT/", "EFI/BOOT/BOOTX64.EFI", "EFI/Linux/", "EFI/Linux/os_1+3.efi", "EFI/systemd/", "EFI/systemd/systemd-bootx64.efi", "loader/", "loader/loader.conf"]);
    const aa64 = await espTree({ systemdBoot: makeTestPe({ machine: 0xaa64 }), uki: uki(0xaa64), ukiFileName: "os.efi", mtime: 0 });
    expect(paths(aa64)).toEqual(["EFI/", "EFI/BOOT/", "EFI/BOOT/BOOTAA64.EFI", "EFI/Linux/", "EFI/Linux/os.efi", "EFI/systemd/", "EFI/systemd/systemd-bootaa64.efi"]);
  });
  it("refuses a UKI of another architecture and bad file names", async () => {
    await expect(espTree({ systemdBoot: makeTestPe({ machine: 0x8664 }), uki: uki(0xaa64), ukiFileName: "os.efi", mtime: 0 })).rejects.toThrow(/^boot\.uki: machine 0xaa64 differs from systemd-boot's 0x8664/);
    await expect(espTree({ systemdBoot: makeTestPe(), uki: uki(0x8664), ukiFileName: "os.img", mtime: 0 })).rejects.toThrow(/must end in \.efi/);
    await expect(espTree({ systemdBoot: new Uint8Array(10), uki: uki(0x8664), ukiFileName: "os.efi", mtime: 0 })).rejects.toThrow(/^boot\.systemdBoot: not a PE image/);
  });
});
