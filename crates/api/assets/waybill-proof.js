// Waybill proof bundle verifier (format waybill-proof/1, docs/PROOFS.md), for browsers.
//
// Checks a bundle against a trust root — the consortium fingerprint from the QR code
// (the first hex digits of the genesis hash) — with nothing but WebCrypto:
//   1. format; 2. the genesis hashes to the fingerprint; 3. each header decodes, is of
//   the genesis's chain, and names the validator set in force at its height (the
//   genesis set, replaced by each proven validator_set record from its effective
//   height: the chain of validator sets from genesis); 4. each header's commit
//   certificate carries Ed25519 precommit signatures for the header's hash by more
//   than two thirds of that set's voting power; 5. each record's RFC 6962 inclusion
//   proof reaches its header's open_root.
// It mirrors waybill_types::proof::verify (Rust) step for step, and names the first
// step that fails. No dependencies; no build step. Public domain-style plain script:
// `WaybillProof.verify(bundle, { fingerprint })` → Promise of
//   { ok: true, records: [{height, index, record}], headers, validators, signers, ... }
//   or { ok: false, step, detail }.
(function (root) {
  "use strict";

  const FORMAT = "waybill-proof/1";
  const VOTE_DOMAIN = "waybill/vote/v1\u0000";
  const MIN_FINGERPRINT_HEX = 8;

  class ProofFailure extends Error {
    constructor(step, detail) {
      super(step + ": " + detail);
      this.step = step;
      this.detail = detail;
    }
  }
  const fail = (step, detail) => {
    throw new ProofFailure(step, detail);
  };

  const utf8 = new TextEncoder();
  const utf8Strict = new TextDecoder("utf-8", { fatal: true });

  function hex(bytes) {
    let s = "";
    for (const b of bytes) s += (b < 16 ? "0" : "") + b.toString(16);
    return s;
  }
  function fromHex(step, what, s) {
    if (typeof s !== "string" || s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
      fail(step, what + " is not hex");
    }
    const out = new Uint8Array(s.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
    return out;
  }
  function fromBase64(step, what, s) {
    if (typeof s !== "string") fail(step, what + " is missing");
    let bin;
    try {
      bin = atob(s);
    } catch (e) {
      fail(step, what + " is not base64");
    }
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function concat(...parts) {
    let n = 0;
    for (const p of parts) n += p.length;
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
  function equal(a, b) {
    if (a.length !== b.length) return false;
    let d = 0;
    for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
    return d === 0;
  }
  function compareBytes(a, b) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      if (a[i] !== b[i]) return a[i] - b[i];
    }
    return a.length - b.length;
  }

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  // ---- borsh, only what the bundle carries -------------------------------------
  class Reader {
    constructor(bytes, step, what) {
      this.b = bytes;
      this.v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.o = 0;
      this.step = step;
      this.what = what;
    }
    need(n) {
      if (this.o + n > this.b.length) {
        fail(this.step, this.what + " is truncated at byte " + this.o);
      }
    }
    u8() {
      this.need(1);
      return this.b[this.o++];
    }
    u32() {
      this.need(4);
      const x = this.v.getUint32(this.o, true);
      this.o += 4;
      return x;
    }
    u64() {
      this.need(8);
      const x = this.v.getBigUint64(this.o, true);
      this.o += 8;
      return x;
    }
    i64() {
      this.need(8);
      const x = this.v.getBigInt64(this.o, true);
      this.o += 8;
      return x;
    }
    bytes(n) {
      this.need(n);
      const x = this.b.subarray(this.o, this.o + n);
      this.o += n;
      return x;
    }
    string() {
      const n = this.u32();
      try {
        return utf8Strict.decode(this.bytes(n));
      } catch (e) {
        fail(this.step, this.what + " has a string that is not UTF-8");
      }
    }
    vec(item, max) {
      const n = this.u32();
      if (n > max) fail(this.step, this.what + " lists " + n + " items, over " + max);
      const out = [];
      for (let i = 0; i < n; i++) out.push(item(this));
      return out;
    }
    end() {
      if (this.o !== this.b.length) {
        fail(this.step, this.what + " has " + (this.b.length - this.o) + " trailing bytes");
      }
    }
  }

  function decodeGenesis(bytes) {
    const r = new Reader(bytes, "genesis", "the genesis");
    const g = { chainId: r.string(), timeMs: r.u64() };
    g.organizations = r.vec(
      (r) => ({
        id: r.string(),
        name: r.string(),
        admin: r.bytes(32),
        roles: r.vec((r) => r.u8(), 64),
        prefixes: r.vec((r) => r.string(), 1024),
      }),
      100000,
    );
    g.validators = r.vec((r) => ({ org: r.string(), key: r.bytes(32), power: r.u64() }), 10000);
    r.end();
    return g;
  }

  function decodeHeader(bytes, height) {
    const r = new Reader(bytes, "header", "header " + height);
    const h = {
      version: r.u8(),
      chainId: r.string(),
      height: r.u64(),
      prevHash: r.bytes(32),
      timeMs: r.u64(),
      proposer: r.bytes(32),
      nTxs: r.u32(),
      txRoot: r.bytes(32),
      openRoot: r.bytes(32),
      stateHash: r.bytes(32),
      validatorsHash: r.bytes(32),
    };
    r.end();
    return h;
  }

  function decodeCertificate(bytes, height) {
    const r = new Reader(bytes, "certificate", "certificate " + height);
    const c = {
      height: r.u64(),
      round: r.u32(),
      blockHash: r.bytes(32),
      signatures: r.vec((r) => ({ validator: r.bytes(32), signature: r.bytes(64) }), 10000),
    };
    r.end();
    return c;
  }

  function u32le(n) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n, true);
    return b;
  }
  function u64le(n) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
    return b;
  }
  function i64le(n) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigInt64(0, BigInt(n), true);
    return b;
  }
  function borshString(s) {
    const b = utf8.encode(s);
    return concat(u32le(b.length), b);
  }

  // SHA-256 of borsh Vec<ValidatorInfo { public_key, voting_power }>.
  function validatorsHash(set) {
    const parts = [u32le(set.length)];
    for (const v of set) parts.push(v.key, u64le(v.power));
    return sha256(concat(...parts));
  }

  // The bytes a precommit signature covers: the domain, then borsh
  // VoteSignBytes { chain_id, vote_type: 1, height, round: i64, block_hash: Some, validator }.
  function precommitMessage(chainId, height, round, blockHash, validator) {
    return concat(
      utf8.encode(VOTE_DOMAIN),
      borshString(chainId),
      new Uint8Array([1]),
      u64le(height),
      i64le(round),
      new Uint8Array([1]),
      blockHash,
      validator,
    );
  }

  async function ed25519Verify(key, signature, message) {
    let k;
    try {
      k = await crypto.subtle.importKey("raw", key, { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      return false;
    }
    try {
      return await crypto.subtle.verify({ name: "Ed25519" }, k, signature, message);
    } catch (e) {
      return false;
    }
  }

  // RFC 9162 §2.1.3.2 inclusion proof verification (RFC 6962 hashing).
  async function verifyInclusion(leafHash, index, size, proof, root) {
    if (!(index < size)) return "index " + index + " is not below tree size " + size;
    let fn = BigInt(index);
    let sn = BigInt(size) - 1n;
    let r = leafHash;
    const one = new Uint8Array([1]);
    for (const p of proof) {
      if (sn === 0n) return "the proof is longer than the tree is deep";
      if ((fn & 1n) === 1n || fn === sn) {
        r = await sha256(concat(one, p, r));
        if ((fn & 1n) === 0n) {
          while ((fn & 1n) === 0n && fn !== 0n) {
            fn >>= 1n;
            sn >>= 1n;
          }
        }
      } else {
        r = await sha256(concat(one, r, p));
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) return "the proof is shorter than the tree is deep";
    if (!equal(r, root)) return "the path does not lead to the block's open-tier root";
    return null;
  }

  function leafHash(bytes) {
    return sha256(concat(new Uint8Array([0]), bytes));
  }

  function parseValidatorSet(v) {
    if (!v || v.kind !== "validator_set") return null;
    if (!Number.isSafeInteger(v.effective_height) || !Array.isArray(v.validators)) {
      fail("validator set", "a validator_set record is malformed");
    }
    const set = v.validators.map((x) => ({
      key: fromHex("validator set", "a validator key", String(x.public_key)),
      power: BigInt(x.voting_power),
    }));
    return { effective: v.effective_height, set };
  }

  async function run(bundle, opts) {
    const t0 = performance.now();
    if (!bundle || typeof bundle !== "object") fail("format", "the bundle is not a JSON object");
    if (bundle.format !== FORMAT) {
      fail("format", "bundle format `" + bundle.format + "` is not " + FORMAT);
    }
    if (!crypto || !crypto.subtle) {
      fail(
        "browser",
        "this browser offers no WebCrypto here (pages must be served over HTTPS or from localhost)",
      );
    }
    const fp = String(opts.fingerprint || "").toLowerCase();
    if (!opts.fingerprint) {
      fail("fingerprint", "no consortium fingerprint (the QR code's `wb` attribute) to check against");
    }
    if (fp.length < MIN_FINGERPRINT_HEX || !/^[0-9a-f]+$/.test(fp)) {
      fail("fingerprint", "`" + fp + "` is not a consortium fingerprint (8 or more hex digits)");
    }
    const genesisBytes = fromBase64("genesis", "the genesis", bundle.genesis);
    const genesisHash = hex(await sha256(genesisBytes));
    if (!genesisHash.startsWith(fp)) {
      fail(
        "fingerprint",
        "the validators' genesis hashes to " +
          genesisHash.slice(0, fp.length) +
          "…, not to the consortium fingerprint " +
          fp +
          " in the QR code",
      );
    }
    const genesis = decodeGenesis(genesisBytes);
    if (genesis.chainId !== bundle.chain_id) {
      fail("genesis", "genesis is for chain `" + genesis.chainId + "`, the bundle says `" + bundle.chain_id + "`");
    }
    const genesisSet = genesis.validators
      .map((v) => ({ key: v.key, power: v.power }))
      .sort((a, b) => compareBytes(a.key, b.key));

    // Headers.
    if (!Array.isArray(bundle.headers) || !Array.isArray(bundle.records)) {
      fail("format", "the bundle lacks headers or records");
    }
    const headers = new Map();
    for (const ch of bundle.headers) {
      const hb = fromBase64("header", "header " + ch.height, ch.header);
      const header = decodeHeader(hb, ch.height);
      if (header.height !== BigInt(ch.height) || header.chainId !== genesis.chainId) {
        fail(
          "header",
          "header listed at height " + ch.height + " is for height " + header.height + " of chain `" + header.chainId + "`",
        );
      }
      if (headers.has(ch.height)) fail("header", "height " + ch.height + " is listed twice");
      const cert = decodeCertificate(fromBase64("certificate", "certificate " + ch.height, ch.certificate), ch.height);
      headers.set(ch.height, { header, hash: await sha256(hb), cert });
    }

    // Records: inclusion in their block's open tier.
    const records = [];
    await Promise.all(
      bundle.records.map(async (r, i) => {
        const bytes = fromBase64("record", "record " + i, r.record);
        const h = headers.get(r.height);
        if (!h) fail("record", "record " + i + " cites height " + r.height + ", whose header is not in the bundle");
        if (!Array.isArray(r.proof)) fail("inclusion", "record " + i + " has no proof");
        const proof = r.proof.map((p) => {
          const b = fromHex("inclusion", "record " + i + ": proof hash `" + p + "`", p);
          if (b.length !== 32) fail("inclusion", "record " + i + ": proof hash `" + p + "` is not 32 bytes");
          return b;
        });
        const why = await verifyInclusion(await leafHash(bytes), r.index, r.tree_size, proof, h.header.openRoot);
        if (why) {
          fail(
            "inclusion",
            "record " + i + " (block " + r.height + ", index " + r.index + ") is not what the validators signed: " + why,
          );
        }
        let value;
        try {
          value = JSON.parse(utf8Strict.decode(bytes));
        } catch (e) {
          fail("record", "record " + i + " is not JSON");
        }
        records[i] = { height: r.height, index: r.index, record: value };
      }),
    );

    // Validator sets: the genesis set, then each proven change from its effective height.
    const changes = [];
    for (const r of records) {
      const c = parseValidatorSet(r.record);
      if (!c) continue;
      if (c.effective <= r.height) {
        fail("validator set", "a validator set published at height " + r.height + " claims to take effect at " + c.effective);
      }
      changes.push(c);
    }
    changes.sort((a, b) => a.effective - b.effective);
    const setAt = (height) => {
      let set = genesisSet;
      for (const c of changes) if (c.effective <= height) set = c.set;
      return set;
    };

    // Certificates: > 2/3 of the voting power in force signed the header's hash.
    const signers = new Map();
    const heights = [...headers.keys()].sort((a, b) => a - b);
    await Promise.all(
      heights.map(async (height) => {
        const { header, hash, cert } = headers.get(height);
        const set = setAt(height);
        const expected = await validatorsHash(set);
        if (!equal(header.validatorsHash, expected)) {
          fail(
            "validator set",
            "header " + height + " names validator set " + hex(header.validatorsHash).slice(0, 16) +
              "…, but the set in force from genesis and the published changes hashes to " + hex(expected).slice(0, 16) + "…",
          );
        }
        if (cert.height !== BigInt(height) || !equal(cert.blockHash, hash)) {
          fail("certificate", "the certificate of height " + height + " is for another block");
        }
        let total = 0n;
        for (const v of set) total += v.power;
        const seen = new Set();
        let signed = 0n;
        const checks = cert.signatures.map((s) => {
          const k = hex(s.validator);
          const v = set.find((x) => equal(x.key, s.validator));
          if (!v) fail("certificate", "height " + height + " carries a signature by " + k.slice(0, 16) + "…, which is not a validator");
          if (seen.has(k)) fail("certificate", "height " + height + " carries two signatures by " + k.slice(0, 16) + "…");
          seen.add(k);
          const msg = precommitMessage(genesis.chainId, height, cert.round, hash, s.validator);
          return ed25519Verify(s.validator, s.signature, msg).then((ok) => {
            if (!ok) fail("certificate", "height " + height + ": the signature of validator " + k.slice(0, 16) + "… does not verify");
            signed += v.power;
            signers.set(k, (signers.get(k) || 0) + 1);
          });
        });
        await Promise.all(checks);
        if (signed * 3n <= total * 2n) {
          fail(
            "certificate",
            "height " + height + " is signed by " + signed + " of " + total + " voting power; more than two thirds is needed",
          );
        }
      }),
    );

    return {
      ok: true,
      chainId: genesis.chainId,
      genesisHash,
      fingerprint: fp,
      records,
      headers: heights.length,
      newestHeight: heights.length ? heights[heights.length - 1] : 0,
      validators: genesisSet.map((v) => ({ key: hex(v.key), power: Number(v.power) })),
      validatorSetChanges: changes.length,
      signers: [...signers.keys()],
      organizations: genesis.organizations.map((o) => ({ id: o.id, name: o.name })),
      ms: performance.now() - t0,
    };
  }

  async function verify(bundle, opts) {
    try {
      return await run(bundle, opts || {});
    } catch (e) {
      if (e instanceof ProofFailure) return { ok: false, step: e.step, detail: e.detail };
      return { ok: false, step: "format", detail: "the bundle could not be read: " + e };
    }
  }

  root.WaybillProof = { FORMAT, verify, verifyInclusion, sha256, hex, fromHex, leafHash };
})(typeof window !== "undefined" ? window : globalThis);
