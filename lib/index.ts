/** gptimg public API. */
export { GptimgError, ErrorCode } from "./core/errors.js";
