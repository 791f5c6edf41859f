/** Test keys and certificates made by openssl (the oracle) in a scratch directory. */
import { readFileSync } from "node:fs";
import { runOk } from "../support/oracles.js";

export interface TestKeyPair {
  readonly name: string;
  readonly keyPath: string;
  readonly certificatePath: string;
  readonly privateKeyPem: string;
  readonly certificatePem: string;
}

/** RSA-2048 and EC P-256 self-signed pairs (PKCS#8 keys), plus traditional-format copies. */
export function makeKeyPairs(directory: string): { rsa: TestKeyPair; ec: TestKeyPair; rsaTraditional: TestKeyPair; ecTraditional: TestKeyPair } {
  const make = (name: string, newkey: string[]): TestKeyPair => {
    const keyPath = `${directory}/${name}.key.pem`;
    const certificatePath = `${directory}/${name}.crt.pem`;
    runOk("openssl", ["req", "-x509", ...newkey, "-nodes", "-keyout", keyPath, "-out", certificatePath, "-subj", `/CN=gptimg test ${name}`, "-days", "3650"]);
    return load(name, keyPath, certificatePath);
  };
  const load = (name: string, keyPath: string, certificatePath: string): TestKeyPair => ({
    name, keyPath, certificatePath, privateKeyPem: readFileSync(keyPath, "utf8"), certificatePem: readFileSync(certificatePath, "utf8"),
  });
  const rsa = make("rsa", ["-newkey", "rsa:2048"]);
  const ec = make("ec", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]);
  runOk("openssl", ["rsa", "-in", rsa.keyPath, "-traditional", "-out", `${directory}/rsa-trad.key.pem`]);
  runOk("openssl", ["ec", "-in", ec.keyPath, "-out", `${directory}/ec-trad.key.pem`]);
  return {
    rsa, ec,
    rsaTraditional: load("rsa-traditional", `${directory}/rsa-trad.key.pem`, rsa.certificatePath),
    ecTraditional: load("ec-traditional", `${directory}/ec-trad.key.pem`, ec.certificatePath),
  };
}
