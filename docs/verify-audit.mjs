// Verify a Bastion audit export with Node.js alone (v18 or later, no packages).
// usage: node verify-audit.mjs AUDIT.jsonl CHECKPOINT.json KEY
//   AUDIT.jsonl      GET /api/v1/workspaces/{ws}/audit/export
//   CHECKPOINT.json  GET /api/v1/workspaces/{ws}/audit/checkpoint
//   KEY              the published key (GET /api/v1/audit/public-key, .verifier_key), or a file holding it
import { createHash, createPublicKey, verify } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";

const fail = (why) => { console.error(`FAIL: ${why}`); process.exit(1); };
const sha256 = (...parts) => createHash("sha256").update(Buffer.concat(parts)).digest();

// RFC 8785: members sorted by UTF-16 code units (what sort() compares), primitives as JSON.stringify.
function jcs(value) {
  if (typeof value === "string" && /\p{Cs}/u.test(value)) throw new Error("a lone surrogate is not JSON text");
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(jcs).join(",")}]`;
  return `{${Object.keys(value).sort().map((k) => `${jcs(k)}:${jcs(value[k])}`).join(",")}}`;
}

// The published key: <name>+<hex key id>+<base64(0x01 || 32-byte Ed25519 key)>.
const [argLog, argCheckpoint, argKey] = process.argv.slice(2);
if (!argKey) { console.error("usage: node verify-audit.mjs AUDIT.jsonl CHECKPOINT.json KEY"); process.exit(2); }
const keyText = (existsSync(argKey) ? readFileSync(argKey, "utf8") : argKey).trim();
const keyName = keyText.slice(0, keyText.indexOf("+")); // the base64 part may hold "+" too
const keyId = keyText.slice(keyName.length + 1, keyName.length + 9);
const keyBytes = Buffer.from(keyText.slice(keyName.length + 10), "base64");
if (!keyName || keyBytes.length !== 33 || keyBytes[0] !== 1) fail("the key is not name+keyid+base64(0x01 || key)");
if (sha256(Buffer.from(`${keyName}\n`), keyBytes).subarray(0, 4).toString("hex") !== keyId) fail("the key id does not match the key");
const publicKey = createPublicKey({ format: "jwk", key: { kty: "OKP", crv: "Ed25519", x: keyBytes.subarray(1).toString("base64url") } });

// The checkpoint: a C2SP signed note. Nothing in its text is read before the signature verifies.
let note;
try { note = JSON.parse(readFileSync(argCheckpoint, "utf8")).note; } catch { fail("the checkpoint is not JSON"); }
if (typeof note !== "string") fail('the checkpoint has no "note"');
const split = note.lastIndexOf("\n\n");
const text = note.slice(0, split + 1);
const signed = note.slice(split + 2).split("\n").filter(Boolean).some((line) => {
  const [dash, name, sig] = line.split(" ");
  const blob = Buffer.from(sig ?? "", "base64");
  if (dash !== "\u2014" || name !== keyName || blob.subarray(0, 4).toString("hex") !== keyId) return false;
  try { return verify(null, Buffer.from(text, "utf8"), publicKey, blob.subarray(4)); } catch { return false; }
});
if (!signed) fail(`no valid signature by ${keyName}+${keyId} on the checkpoint (altered, or another key)`);
const [origin, sizeText, rootB64] = text.split("\n");
const size = Number(sizeText);
const workspace = origin.slice(origin.lastIndexOf("/") + 1);

// Every leaf: SHA-256(0x00 || entry), the entry re-encoded with RFC 8785 from the parsed line.
const raw = readFileSync(argLog);
const lines = [];
for (let start = 0; start < raw.length;) {
  const end = raw.indexOf(10, start);
  if (end < 0) fail(`line ${lines.length + 1} does not end with a newline`);
  lines.push(raw.subarray(start, end));
  start = end + 1;
}
if (lines.length < size) fail(`the log has ${lines.length} entries, the checkpoint signs ${size}`);
const decoder = new TextDecoder("utf-8", { fatal: true });
let legacy = 0;
const stack = [];
for (let seq = 0; seq < size; seq++) {
  let entry;
  try { entry = JSON.parse(decoder.decode(lines[seq])); } catch { fail(`line ${seq + 1} is not JSON`); }
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) fail(`line ${seq + 1} is not an object`);
  if (entry.seq !== seq) fail(`line ${seq + 1} has seq ${entry.seq}, expected ${seq}`);
  if (entry.workspace !== workspace) fail(`line ${seq + 1} belongs to ${entry.workspace}, not ${workspace}`);
  let leaf = lines[seq];
  if (entry.v === 2) {
    let canonical;
    try { canonical = Buffer.from(jcs(entry), "utf8"); } catch (e) { fail(`line ${seq + 1}: ${e.message}`); }
    if (!canonical.equals(lines[seq])) fail(`line ${seq + 1} is not in RFC 8785 canonical form`);
    leaf = canonical;
  } else if ("v" in entry) {
    fail(`line ${seq + 1} has an unknown entry format v=${JSON.stringify(entry.v)}`);
  } else {
    legacy++; // written before RFC 8785: hashed as exported (the signed root still covers it)
  }
  // RFC 6962 tree, kept as its frontier: the roots of the perfect subtrees, left to right.
  let node = sha256(Buffer.from([0]), leaf);
  for (let n = seq; n & 1; n >>= 1) node = sha256(Buffer.from([1]), stack.pop(), node);
  stack.push(node);
}
let root = stack.length ? stack.pop() : sha256();
while (stack.length) root = sha256(Buffer.from([1]), stack.pop(), root);
if (root.toString("base64") !== rootB64) fail(`the root of the first ${size} entries is not the signed root`);
const extra = lines.length - size;
console.log(`ok: ${origin}, ${size} entries match the root signed by ${keyName}` +
  (legacy ? ` (${legacy} legacy entries hashed as exported)` : "") +
  (extra ? `; ${extra} later entries are not covered by this checkpoint` : ""));
