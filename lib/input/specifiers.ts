/**
 * Specifier expansion for Label= (repart uses systemd's system_and_tmp_specifier_table).
 * gptimg never reads the build host's identity: values come from the spec or the command
 * line, so a label cannot silently differ between build machines. A specifier without a
 * value makes the expansion fail (repart then warns and ignores the label).
 */
import { LABEL_MAX_UTF16_UNITS } from "../formats/gpt/layout.js";

export interface SpecifierValues {
  /** %a: architecture. */
  readonly architecture?: string;
  /** %A: IMAGE_VERSION. */
  readonly imageVersion?: string;
  /** %M: IMAGE_ID. */
  readonly imageId?: string;
  /** %o: os-release ID. */
  readonly osId?: string;
  /** %w: VERSION_ID. */
  readonly versionId?: string;
  /** %B: BUILD_ID. */
  readonly buildId?: string;
  /** %W: VARIANT_ID. */
  readonly variantId?: string;
}

export function expandLabelSpecifiers(text: string, values: SpecifierValues): string | undefined {
  const table: Record<string, string | undefined> = {
    "%": "%",
    a: values.architecture,
    A: values.imageVersion,
    M: values.imageId,
    o: values.osId,
    w: values.versionId,
    B: values.buildId,
    W: values.variantId,
    T: "/tmp",
    V: "/var/tmp",
  };
  let out = "";
  for (let index = 0; index < text.length; index++) {
    const character = text[index]!;
    if (character !== "%") {
      out += character;
      continue;
    }
    const specifier = text[++index];
    const value = specifier === undefined ? undefined : table[specifier];
    if (value === undefined) return undefined;
    out += value;
  }
  return out;
}

/** GPT labels hold at most 36 UTF-16 code units (JavaScript string length counts exactly those). */
export function labelFitsGpt(label: string): boolean {
  return label.length <= LABEL_MAX_UTF16_UNITS;
}
