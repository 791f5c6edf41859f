/** What `gptimg verify` / verifyImage() report. */

export type VerifySeverity = "error" | "warning";

/** image: the file itself; gpt: headers and entries; dps: partition roles; verity: hash trees; signature: verity-sig. */
export type VerifyArea = "image" | "gpt" | "dps" | "verity" | "signature";

export interface VerifyFinding {
  readonly severity: VerifySeverity;
  readonly area: VerifyArea;
  readonly message: string;
}

export interface VerityPairReport {
  /** 1-based partition numbers. */
  readonly dataIndex: number;
  readonly hashIndex: number;
  readonly signatureIndex?: number;
  /** Lowercase hex: the root hash the tree was checked against. */
  readonly rootHash: string;
  /** The tree matches the root hash and, when present, the signature partition agrees. */
  readonly ok: boolean;
}

export interface ImageVerification {
  readonly image: string;
  readonly sizeBytes: number;
  readonly findings: readonly VerifyFinding[];
  readonly verity: readonly VerityPairReport[];
}

export interface VerifyOptions {
  /** PEM certificate the verity signatures must be made with. */
  readonly certificatePem?: string;
  readonly concurrency: number;
}
