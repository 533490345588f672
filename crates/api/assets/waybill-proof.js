// Waybill proof bundle verifier (format waybill-proof/2, docs/PROOFS.md), for browsers.
//
// Checks a bundle against a trust root — the consortium fingerprint from the QR code
// (at least 32 hex digits of the genesis hash), never one the bundle carries — with
// nothing but WebCrypto, in the order and with the step names of
// waybill_types::proof::verify (Rust): format; fingerprint (the genesis hashes to
// it); header (each decodes, is of the genesis's chain, listed by height once);
// order (records by block and index, each once); inclusion (RFC 6962 path to the
// header's open_root); record (JSON with `prev` links to earlier records); validator
// set (the genesis set, replaced by each proven validator_set record from its
// effective height); certificate (Ed25519 precommits by more than two thirds of the
// set's power); anchor (the newest header); heads (each subject's latest record,
// proven from the anchor's heads_root through the sparse Merkle tree); completeness
// (the history walked from its heads back along the `prev` links — the same walk as
// proof::walk_history — with no record missing); subject (the history is the one the
// bundle names, and the bundle holds nothing else).
// No dependencies; no build step. `WaybillProof.verify(bundle, { fingerprint })` →
// Promise of { ok: true, records, history, anchorHeight, anchorTimeMs, ... } or
// { ok: false, step, detail }.
(function (root) {
  "use strict";

  const FORMAT = "waybill-proof/2";
  const VOTE_DOMAIN = "waybill/vote/v1\u0000";
  const SUBJECT_DOMAIN = "waybill/subject/v1\u0000";
  const HEAD_DOMAIN = "waybill/head/v1\u0000";
  const MIN_FINGERPRINT_HEX = 32;
  const RECORDS_MAX = 5000;
  const SUBJECTS_MAX = 1000;
  const VALIDATORS_SUBJECT = "validators";
  const DL_PREFIX = "https://id.gs1.org/01/";

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
      headsRoot: r.bytes(32),
      commitRoot: r.bytes(32),
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

  // ---- the heads tree: a compact sparse Merkle tree (waybill_types::smt) ----------
  function u64be(n) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(n), false);
    return b;
  }
  function u32be(n) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n, false);
    return b;
  }
  const EMPTY = new Uint8Array(32);
  const subjectKey = (id) => sha256(concat(utf8.encode(SUBJECT_DOMAIN), utf8.encode(id)));
  const headValue = (height, index, leaf) =>
    sha256(concat(utf8.encode(HEAD_DOMAIN), u64be(height), u32be(index), leaf));
  const smtLeaf = (key, value) => sha256(concat(new Uint8Array([0]), key, value));
  const smtNode = (l, r) => sha256(concat(new Uint8Array([1]), l, r));
  const bit = (key, i) => (key[i >> 3] & (0x80 >> (i & 7))) !== 0;
  function samePath(a, b, depth) {
    for (let i = 0; i < depth; i++) if (bit(a, i) !== bit(b, i)) return false;
    return true;
  }
  // The root a proof computes for `key`: terminal is {found: value} | {empty} |
  // {other: [key, value]}. Returns null if the proof is malformed.
  async function smtRoot(key, siblings, terminal) {
    const depth = siblings.length;
    if (depth > 256) return null;
    let h;
    if (terminal.found) h = await smtLeaf(key, terminal.found);
    else if (terminal.other) {
      const [k, v] = terminal.other;
      if (equal(k, key) || !samePath(k, key, depth)) return null;
      h = await smtLeaf(k, v);
    } else h = EMPTY;
    for (let i = depth - 1; i >= 0; i--) {
      h = bit(key, i) ? await smtNode(siblings[i], h) : await smtNode(h, siblings[i]);
    }
    return h;
  }

  // ---- the history walk: proof::walk_history, line for line ----------------------
  function parseSubject(link) {
    if (typeof link !== "string" || !link.startsWith(DL_PREFIX)) {
      fail("subject", "`" + link + "` is not a canonical Digital Link (" + DL_PREFIX + "…)");
    }
    const parts = link.slice(DL_PREFIX.length).split("/");
    const gtin = parts[0];
    if (!/^[0-9]{14}$/.test(gtin)) fail("subject", "`" + link + "` does not name a 14-digit GTIN");
    const s = { gtin, lot: null, serial: null };
    for (let i = 1; i < parts.length; i += 2) {
      const ai = parts[i];
      const value = parts[i + 1] || "";
      if (!value) fail("subject", "`" + link + "`: AI " + ai + " has no value");
      if (ai === "10" && s.lot === null && s.serial === null) s.lot = value;
      else if (ai === "21" && s.serial === null) s.serial = value;
      else fail("subject", "`" + link + "` is not canonical: unexpected `/" + ai + "/`");
    }
    s.productId = DL_PREFIX + gtin;
    s.lotId = s.lot === null ? null : DL_PREFIX + gtin + "/10/" + s.lot;
    s.itemId = s.serial === null ? null : DL_PREFIX + gtin + "/21/" + s.serial;
    s.roots = [s.itemId, s.lotId].filter((x) => x !== null);
    return s;
  }
  function gtinOf(id) {
    if (typeof id !== "string" || !id.startsWith(DL_PREFIX)) return null;
    const g = id.slice(DL_PREFIX.length, DL_PREFIX.length + 14);
    return /^[0-9]{14}$/.test(g) ? g : null;
  }
  function locationSubject(id) {
    const p = "https://id.gs1.org/414/";
    if (typeof id !== "string" || !id.startsWith(p)) return null;
    const rest = id.slice(p.length);
    const gln = rest.slice(0, 13);
    if (!/^[0-9]{13}$/.test(gln) || !(rest.length === 13 || rest[13] === "/")) return null;
    return p + gln;
  }
  // proof::lineage_edges
  function lineageEdges(subject, record) {
    const out = [];
    const kind = record && record.kind;
    if (kind === "event" || kind === "inspection") {
      const ids = Array.isArray(record.ids)
        ? record.ids.filter((x) => x && typeof x.role === "string" && typeof x.id === "string")
        : [];
      const roles = new Set(ids.filter((x) => x.id === subject).map((x) => x.role));
      const withRoles = (wanted) => {
        for (const x of ids) if (wanted.includes(x.role)) out.push(x.id);
      };
      if (roles.has("child") || roles.has("child_quantity")) withRoles(["parent"]);
      if (roles.has("output") || roles.has("output_quantity")) withRoles(["input", "input_quantity"]);
      if (roles.has("epc") || roles.has("quantity")) withRoles(["ilmd_lot"]);
      for (const f of ["biz_location", "read_point"]) {
        const l = locationSubject(record[f]);
        if (l) out.push(l);
      }
    } else if (kind === "lot" && record.id === subject) {
      if (Array.isArray(record.raw_material_ids)) {
        for (const x of record.raw_material_ids) if (typeof x === "string") out.push(x);
      }
      if (typeof record.origin_gln === "string") out.push("https://id.gs1.org/414/" + record.origin_gln);
      if (typeof record.owner === "string") out.push("org:" + record.owner);
    }
    return out;
  }
  function prevOf(record, subject) {
    const prev = record.prev;
    if (!prev || typeof prev !== "object" || !Object.prototype.hasOwnProperty.call(prev, subject)) {
      return { error: "does not name " + subject };
    }
    const v = prev[subject];
    if (v === null) return { at: null };
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && Number.isSafeInteger(v[1])) {
      return { at: [v[0], v[1]] };
    }
    return { error: "its link for " + subject + " is not [height, index]" };
  }
  const posKey = (h, i) => h + "/" + i;
  function walkHistory(subject, heads, byPos) {
    const queue = subject.roots.concat([VALIDATORS_SUBJECT]);
    const seen = new Set(queue);
    const gtins = [subject.gtin];
    const chains = [];
    const products = new Map();
    let nRecords = 0;
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi];
      if (queue.length > SUBJECTS_MAX) fail("completeness", "the history is too large: more than " + SUBJECTS_MAX + " subjects");
      if (!heads.has(s)) fail("completeness", "the head of " + s + " is not proven");
      const chain = [];
      let at = heads.get(s);
      let newer = null;
      while (at) {
        const [h, i] = at;
        if (newer && (h > newer[0] || (h === newer[0] && i >= newer[1]))) {
          fail("completeness", "record " + newer[0] + "/" + newer[1] + " in the history of " + s + ": links forward to " + h + "/" + i);
        }
        if (++nRecords > RECORDS_MAX) fail("completeness", "the history is too large: more than " + RECORDS_MAX + " records");
        const rec = byPos.get(posKey(h, i));
        if (!rec) fail("completeness", "record " + h + "/" + i + " of the history of " + s + " is missing (a gap)");
        for (const t of lineageEdges(s, rec.record)) {
          const g = gtinOf(t);
          if (g && !gtins.includes(g)) gtins.push(g);
          if (!seen.has(t)) {
            seen.add(t);
            queue.push(t);
          }
        }
        chain.push([h, i]);
        newer = [h, i];
        const p = prevOf(rec.record, s);
        if (p.error) fail("completeness", "record " + h + "/" + i + " in the history of " + s + ": " + p.error);
        at = p.at;
      }
      chains.push([s, chain]);
      for (let g; (g = gtins.find((x) => !products.has(x))) !== undefined; ) {
        const id = DL_PREFIX + g;
        let found = null;
        for (const r of byPos.values()) {
          const v = r.record;
          if (v && v.kind === "product" && v.id === id && v.prev && v.prev[id] === null) {
            found = r;
            break;
          }
        }
        products.set(g, found ? [found.height, found.index] : null);
        if (found && typeof found.record.owner === "string") {
          const t = "org:" + found.record.owner;
          if (!seen.has(t)) {
            seen.add(t);
            queue.push(t);
          }
        }
      }
    }
    for (const [g, p] of [...products]) if (p === null) products.delete(g);
    return { chains, products };
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
      fail("fingerprint", "`" + fp + "` is not a consortium fingerprint (" + MIN_FINGERPRINT_HEX + " or more hex digits)");
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
    let lastHeight = -1;
    for (const ch of bundle.headers) {
      if (!Number.isSafeInteger(ch.height) || ch.height <= lastHeight) {
        fail("header", "headers must be listed by height, each once: " + ch.height + " comes after " + lastHeight);
      }
      lastHeight = ch.height;
      const hb = fromBase64("header", "header " + ch.height, ch.header);
      const header = decodeHeader(hb, ch.height);
      if (header.height !== BigInt(ch.height) || header.chainId !== genesis.chainId) {
        fail(
          "header",
          "header listed at height " + ch.height + " is for height " + header.height + " of chain `" + header.chainId + "`",
        );
      }
      const cert = decodeCertificate(fromBase64("certificate", "certificate " + ch.height, ch.certificate), ch.height);
      headers.set(ch.height, { header, hash: await sha256(hb), cert });
    }

    // Records: by position, each once; inclusion in their block's open tier; JSON
    // with `prev` links to earlier records.
    for (let i = 1; i < bundle.records.length; i++) {
      const a = bundle.records[i - 1];
      const b = bundle.records[i];
      if (!(b.height > a.height || (b.height === a.height && b.index > a.index))) {
        fail(
          "order",
          "record " + i + " (" + b.height + "/" + b.index + ") comes after " + a.height + "/" + a.index +
            ": records must be listed by block and index, each once",
        );
      }
    }
    const records = [];
    const leaves = new Map();
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
        const leaf = await leafHash(bytes);
        const why = await verifyInclusion(leaf, r.index, r.tree_size, proof, h.header.openRoot);
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
        const prev = value && value.prev;
        const linksOk =
          prev &&
          typeof prev === "object" &&
          !Array.isArray(prev) &&
          Object.values(prev).every(
            (v) =>
              v === null ||
              (Array.isArray(v) &&
                v.length === 2 &&
                Number.isSafeInteger(v[0]) &&
                Number.isSafeInteger(v[1]) &&
                (v[0] < r.height || (v[0] === r.height && v[1] < r.index))),
          );
        if (!linksOk) {
          fail("record", "record " + i + " (" + r.height + "/" + r.index + ") has no `prev` links to earlier records");
        }
        leaves.set(posKey(r.height, r.index), leaf);
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

    // The anchor: the newest header, from whose heads_root the heads are proven.
    if (!heights.length) fail("anchor", "the bundle has no headers");
    const anchorHeight = heights[heights.length - 1];
    if (bundle.anchor !== anchorHeight) {
      fail("anchor", "the bundle says it is complete up to block " + bundle.anchor + ", but its newest header is " + anchorHeight);
    }
    const anchor = headers.get(anchorHeight).header;
    if (!Array.isArray(bundle.heads)) fail("format", "the bundle lacks heads");
    const heads = new Map();
    await Promise.all(
      bundle.heads.map(async (hd) => {
        const subject = String(hd.subject);
        const siblings = (Array.isArray(hd.proof) ? hd.proof : []).map((p) => {
          const b = fromHex("heads", "head of " + subject + ": sibling", p);
          if (b.length !== 32) fail("heads", "head of " + subject + ": sibling `" + p + "` is not 32 bytes");
          return b;
        });
        let terminal;
        if (hd.at && hd.other) fail("heads", "head of " + subject + ": both a position and another entry");
        if (hd.at) {
          if (!Array.isArray(hd.at) || hd.at.length !== 2) fail("heads", "head of " + subject + ": bad position");
          const leaf = leaves.get(posKey(hd.at[0], hd.at[1]));
          if (!leaf) fail("completeness", "the latest record of " + subject + " (" + hd.at[0] + "/" + hd.at[1] + ") is not in the bundle");
          terminal = { found: await headValue(hd.at[0], hd.at[1], leaf) };
        } else if (hd.other) {
          terminal = {
            other: [fromHex("heads", "other key", hd.other[0]), fromHex("heads", "other value", hd.other[1])],
          };
        } else terminal = { empty: true };
        const root = await smtRoot(await subjectKey(subject), siblings, terminal);
        if (!root || !equal(root, anchor.headsRoot)) {
          fail("heads", "the head of " + subject + " is not what block " + anchorHeight + " commits to");
        }
        if (heads.has(subject)) fail("heads", "the head of " + subject + " is listed twice");
        heads.set(subject, hd.at ? [hd.at[0], hd.at[1]] : null);
      }),
    );

    // The history, walked from its heads; then: about the subject, and nothing else.
    const subject = parseSubject(bundle.subject);
    const byPos = new Map(records.map((r) => [posKey(r.height, r.index), r]));
    const history = walkHistory(subject, heads, byPos);
    if (!history.products.has(subject.gtin)) {
      fail("subject", "the bundle proves no product record for GTIN " + subject.gtin);
    }
    for (const root of subject.roots) {
      const c = history.chains.find(([s]) => s === root);
      const chain = c ? c[1] : [];
      if (!chain.length) fail("subject", "nothing is recorded about " + root + " up to the anchor");
      if (root === subject.lotId) {
        const [h, i] = chain[chain.length - 1];
        if (byPos.get(posKey(h, i)).record.kind !== "lot") {
          fail("subject", "the history of " + root + " does not start with the lot's record");
        }
      }
    }
    const used = new Set();
    for (const [, chain] of history.chains) for (const [h, i] of chain) used.add(posKey(h, i));
    for (const [h, i] of history.products.values()) used.add(posKey(h, i));
    for (const r of records) {
      if (!used.has(posKey(r.height, r.index))) {
        fail("subject", "record " + r.height + "/" + r.index + " (" + (r.record && r.record.kind) + ") is not part of the history of " + bundle.subject);
      }
    }
    const walked = new Set(history.chains.map(([s]) => s));
    for (const s of heads.keys()) {
      if (!walked.has(s)) fail("subject", "the head of " + s + " is not part of the history of " + bundle.subject);
    }

    return {
      ok: true,
      chainId: genesis.chainId,
      genesisHash,
      fingerprint: fp,
      records,
      headers: heights.length,
      newestHeight: anchorHeight,
      anchorHeight,
      anchorTimeMs: Number(anchor.timeMs),
      subject,
      history,
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

  root.WaybillProof = {
    FORMAT,
    verify,
    verifyInclusion,
    sha256,
    hex,
    fromHex,
    leafHash,
    smtRoot,
    subjectKey,
    headValue,
    lineageEdges,
    parseSubject,
  };
})(typeof window !== "undefined" ? window : globalThis);
