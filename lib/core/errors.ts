/**
 * Every error a user can cause is a GptimgError: one line naming the file, JSON path or member
 * at fault and what to do about it. The CLI prints `message` (plus `hint`) and exits non-zero;
 * anything that is not a GptimgError is a bug in gptimg and is reported as such.
 */
export const ErrorCode = {
  Spec: "spec",
  Definitions: "definitions",
  Size: "size",
  Layout: "layout",
  Image: "image",
  Input: "input",
  Tree: "tree",
  Format: "format",
  Io: "io",
  Usage: "usage",
  Verity: "verity",
  Signing: "signing",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class GptimgError extends Error {
  readonly code: ErrorCode;
  /** What the user should do next; appended to the message after "; ". */
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, hint?: string) {
    super(hint ? `${message}; ${hint}` : message);
    this.name = "GptimgError";
    this.code = code;
    this.hint = hint;
  }
}

export function fail(code: ErrorCode, message: string, hint?: string): never {
  throw new GptimgError(code, message, hint);
}

export function isGptimgError(error: unknown): error is GptimgError {
  return error instanceof GptimgError;
}
