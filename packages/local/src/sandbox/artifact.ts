import { createHmac } from "node:crypto";

/** Where documents/scripts/lib/artifacts.sh keeps sealed build artifacts in the bucket. */
export const ARTIFACT_PREFIX = ".ftpfleet/artifacts/";

/**
 * An artifact as documents/scripts/lib/artifacts.sh publishes and verifies it: the line
 * `ftpfleet-artifact v1 hmac-sha256 <hex>`, then the payload. The MAC is HMAC-SHA256 under the
 * fleet's key (hex) of the artifact's name (the last segment of its key) and the payload.
 * Computed here with node's crypto, independently of the scripts' shell implementation, so each
 * checks the other.
 */
export function sealArtifact(key: string, name: string, payload: Buffer): Buffer {
  const mac = createHmac("sha256", Buffer.from(key, "hex"))
    .update(`ftpfleet-artifact v1\n${name}\n`)
    .update(payload)
    .digest("hex");
  return Buffer.concat([Buffer.from(`ftpfleet-artifact v1 hmac-sha256 ${mac}\n`), payload]);
}

/** The payload of a sealed artifact if its MAC is valid under `key`, else undefined. */
export function unsealArtifact(key: string, name: string, sealed: Buffer): Buffer | undefined {
  const payload = sealed.subarray(sealed.indexOf(0x0a) + 1);
  return sealArtifact(key, name, payload).equals(sealed) ? payload : undefined;
}
