// The console's own script (no framework, no build step). Two jobs:
// 1. Check audit proofs in the browser: each entry shown with data-verify
//    is re-hashed from its fields (when the page has them), proved into
//    the Merkle tree of the latest signed checkpoint (RFC 9162 inclusion
//    proof, leaf = SHA-256(0x00 || entry hash), node = SHA-256(0x01 || l || r)),
//    and the checkpoint's Ed25519 signature is checked with Web Crypto
//    against the log's published key. Nothing is taken on the server's word
//    but the public key.
// 2. Refresh the overview's figures every 5 seconds.
"use strict";

(function () {
  const enc = new TextEncoder();
  const body = document.body;

  function hexToBytes(h) {
    if (h.length % 2) throw new Error("odd hex");
    const out = new Uint8Array(h.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(h.substr(i * 2, 2), 16);
    return out;
  }
  function b64ToBytes(s) {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function concat(parts) {
    let n = 0;
    for (const p of parts) n += p.length;
    const out = new Uint8Array(n);
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }
  function equal(a, b) {
    if (a.length !== b.length) return false;
    let d = 0;
    for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
    return d === 0;
  }
  function u64(n) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(n));
    return b;
  }
  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }
  const node = (l, r) => sha256(concat([Uint8Array.of(1), l, r]));
  const leafOf = (entryHash) => sha256(concat([Uint8Array.of(0), entryHash]));

  // entryHash re-creates audit.Hash: the sequence number, then each field
  // length-prefixed (big-endian 64-bit), as broker/audit/audit.go hashInput.
  async function entryHash(d) {
    const parts = [u64(d.seq)];
    const str = (s) => { const b = enc.encode(s); parts.push(u64(b.length), b); };
    const prev = hexToBytes(d.prev || "");
    parts.push(u64(prev.length), prev);
    str(d.time);
    for (const k of ["actor", "action", "dataset", "purpose", "legal", "agreement", "decision", "reason", "request", "citizen"]) str(d[k] || "");
    const fields = JSON.parse(d.fields || "[]");
    parts.push(u64(fields.length));
    for (const f of fields) str(f);
    if (d.hidden) { str("hidden_until"); str(d.hidden); }
    return sha256(concat(parts));
  }

  // verifyInclusion is RFC 9162 section 2.1.3.2 for leaf index m of size n.
  async function verifyInclusion(m, n, leaf, proof, root) {
    if (m < 0 || m >= n) return false;
    let fn = m, sn = n - 1, r = leaf;
    for (const p of proof) {
      if (sn === 0) return false;
      if ((fn & 1) === 1 || fn === sn) {
        r = await node(p, r);
        while ((fn & 1) === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = await node(r, p);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 && equal(r, root);
  }

  async function getJSON(url) {
    const res = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (!res.ok) { const e = new Error(url + ": " + res.status); e.status = res.status; throw e; }
    return res.json();
  }

  // signedCheckpoint fetches the latest checkpoint and checks its signature;
  // the size and root used afterwards are read from the signed text itself.
  async function signedCheckpoint() {
    const key = await getJSON("/v1/audit/public-key");
    const cp = await getJSON("/v1/audit/checkpoint");
    const pub = await crypto.subtle.importKey("raw", hexToBytes(key.public_key), { name: "Ed25519" }, false, ["verify"]);
    const msg = enc.encode(cp.signed_message);
    if (!await crypto.subtle.verify({ name: "Ed25519" }, pub, b64ToBytes(cp.signature), msg)) throw new Error("bad checkpoint signature");
    const lines = cp.signed_message.split("\n");
    if (lines[0] !== "lgsp-audit-checkpoint/v1") throw new Error("unknown checkpoint format");
    return { size: Number(lines[1]), root: hexToBytes(lines[2]) };
  }

  function show(el, cls, key) {
    const v = el.querySelector(".verdict");
    v.className = "verdict " + cls;
    v.textContent = body.dataset[key];
    el.dataset.result = cls;
  }

  async function verifyAll() {
    const els = Array.from(document.querySelectorAll("[data-verify]"));
    if (!els.length) return;
    if (!window.crypto || !crypto.subtle) { els.forEach((el) => show(el, "bad", "proofUnsupported")); return; }
    let cp;
    try {
      cp = await signedCheckpoint();
    } catch (e) {
      const none = e.status === 404;
      els.forEach((el) => show(el, none ? "pending" : "bad", none ? "proofPending" : (e.name === "NotSupportedError" ? "proofUnsupported" : "proofBad")));
      return;
    }
    for (const el of els) {
      const d = el.dataset;
      const seq = Number(d.seq);
      if (seq > cp.size) { show(el, "pending", "proofPending"); continue; }
      try {
        const p = await getJSON("/v1/audit/proofs/inclusion?seq=" + seq + "&size=" + cp.size);
        let leaf = hexToBytes(p.leaf_hash);
        if (d.hash) {
          // The entry as shown must hash to its recorded hash, whose leaf is proved.
          const h = await entryHash(d);
          if (!equal(h, hexToBytes(d.hash))) { show(el, "bad", "proofBad"); continue; }
          leaf = await leafOf(h);
        }
        const ok = await verifyInclusion(seq - 1, cp.size, leaf, p.proof.map(hexToBytes), cp.root);
        show(el, ok ? "ok" : "bad", ok ? "proofOk" : "proofBad");
      } catch (e) {
        show(el, "bad", "proofBad");
      }
    }
  }

  function live() {
    const el = document.getElementById("live");
    if (!el) return;
    const tick = async () => {
      try {
        const figs = await getJSON(el.dataset.src);
        for (const [k, v] of Object.entries(figs)) {
          const value = typeof v === "object" ? v.value : v;
          document.querySelectorAll('[data-figure="' + k + '"]').forEach((n) => { n.textContent = String(value); });
          if (typeof v === "object") document.querySelectorAll('[data-bar="' + k + '"]').forEach((n) => n.setAttribute("width", String(v.width)));
        }
      } catch (e) {
        if (e.status === 401) return; // the session ended: stop polling
      }
      setTimeout(tick, 5000);
    };
    setTimeout(tick, 5000);
  }

  document.addEventListener("DOMContentLoaded", () => { verifyAll(); live(); });
})();
