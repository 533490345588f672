// The consumer page (GET /01/…): verify the embedded proof bundle with
// waybill-proof.js, then draw the product's history from the verified records only.
//
// The server renders the same history without JavaScript, marked "not verified"; this
// script removes that copy first, and shows a history again only if every check
// passed, built from the bytes the validators signed. The trust root is the `wb`
// attribute of the link that was scanned (the consortium fingerprint), never
// anything the node says.
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else e.setAttribute(k, v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }
  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---- what the link names -------------------------------------------------------
  function subjectOf(pathname) {
    const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const out = {};
    for (let i = 0; i + 1 < parts.length; i += 2) {
      if (parts[i] === "01") out.gtin = parts[i + 1];
      if (parts[i] === "10") out.lot = parts[i + 1];
      if (parts[i] === "21") out.serial = parts[i + 1];
    }
    return out;
  }

  // ---- words ----------------------------------------------------------------------
  const STEP = {
    commissioning: "Produced",
    receiving: "Received",
    inspecting: "Inspected",
    shipping: "Shipped",
    departing: "Departed",
    transporting: "In transit",
    arriving: "Arrived",
    storing: "Stored",
    picking: "Picked",
    packing: "Packed",
    unpacking: "Unpacked",
    accepting: "Accepted",
    loading: "Loaded",
    unloading: "Unloaded",
    retail_selling: "Sold",
    holding: "Held",
    decommissioning: "Taken out of use",
    destroying: "Destroyed",
    sampling: "Sampled",
    repairing: "Repaired",
    installing: "Installed",
  };
  const DISPOSITION = {
    conformant: "passed",
    non_conformant: "failed",
    in_transit: "in transit",
    active: "",
    container_closed: "sealed",
    sellable_accessible: "on sale",
    sellable_not_accessible: "in storage",
    retail_sold: "delivered",
    in_progress: "in progress",
    recalled: "RECALLED",
    damaged: "damaged",
    expired: "expired",
    destroyed: "destroyed",
  };
  const words = (s) => String(s || "").replace(/_/g, " ");
  const localName = (s) => String(s || "").replace(/^.*[/:#]/, "");

  function stepLabel(ev, place) {
    const step = localName(ev.biz_step);
    if (ev.event_type === "TransformationEvent") return "Processed";
    if (step === "commissioning" && place && place.location_kind === "farm") return "Harvested";
    if (step === "inspecting" && place && /customs/i.test(place.location_kind)) return "Customs inspection";
    if (step === "inspecting" && /customs/i.test(ev.org)) return "Customs inspection";
    return STEP[step] || words(step) || ev.event_type;
  }

  function when(t) {
    // eventTime as written: "2026-11-02T16:30:00+08:00" → "2026-11-02 16:30 (UTC+08:00)".
    const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(?::\d\d(?:\.\d+)?)?(Z|[+-]\d\d:\d\d)?$/.exec(t || "");
    if (!m) return String(t || "");
    return m[1] + " " + m[2] + (m[3] ? " (UTC" + (m[3] === "Z" ? "" : m[3]) + ")" : "");
  }

  const isTemperature = (r) => /temperature/i.test(String(r.type || ""));
  function unitSymbol(u) {
    return { CEL: "°C", FAR: "°F", KEL: "K" }[u] || (u ? " " + u : "");
  }
  function rangeOf(v) {
    if (!v || typeof v !== "object") return null;
    const out = {};
    for (const [k, x] of Object.entries(v)) out[localName(k)] = x;
    const min = Number(out.min);
    const max = Number(out.max);
    if (!Number.isFinite(min) || !Number.isFinite(max)) return null;
    return { min, max, uom: out.uom || "CEL" };
  }

  // ---- which events the history shows ---------------------------------------------
  // The verified history holds every record of every chain (the pallet's whole life,
  // every event of the lot). The timeline shows the item's own events, a container's
  // events while it held the item, an input's events up to its transformation, and a
  // lot's events about the lot itself (not its other items' commissioning) — each
  // marked with what it is about. consumer.rs renders the no-JS copy the same way.
  const FOREVER = [[-Infinity, Infinity]];
  function clip(windows, lo, hi) {
    const out = [];
    for (const [a, b] of windows) {
      const x = Math.max(a, lo);
      const y = Math.min(b, hi);
      if (x < y || (x === y && lo === hi)) out.push([x, y]);
    }
    return out;
  }
  const within = (t, windows) => windows.some(([a, b]) => t >= a && (t < b || (a === b && t === a)));
  function timeline(result) {
    const byPos = new Map(result.records.map((r) => [r.height + "/" + r.index, r.record]));
    const corrected = new Set();
    for (const r of byPos.values()) if (r.kind === "correction") for (const h of r.corrects || []) corrected.add(h);
    const roots = new Set(result.subject.roots);
    const reach = new Map(); // subject -> { windows, relation }
    for (const r of roots) reach.set(r, { windows: FOREVER, relation: null });
    const shown = new Map();
    const order = [];
    for (const [s, chain] of result.history.chains) {
      const how = reach.get(s);
      if (!how) continue;
      const events = chain
        .map(([h, i]) => ({ pos: h + "/" + i, r: byPos.get(h + "/" + i) }))
        .filter((x) => x.r && (x.r.kind === "event" || x.r.kind === "inspection") && !corrected.has(x.r.hash_id))
        .map((x) => ({ ...x, t: Date.parse(x.r.event_time) }))
        .sort((a, b) => a.t - b.t);
      const open = new Map(); // parent -> start time
      const held = new Map(); // parent -> [[start, end)]
      for (const x of events) {
        const roles = new Set((x.r.ids || []).filter((y) => y.id === s).map((y) => y.role));
        const onlyLot = roles.size > 0 && [...roles].every((r) => r === "ilmd_lot");
        if (within(x.t, how.windows) && !(how.relation === "lot" && onlyLot) && !shown.has(x.pos)) {
          shown.set(x.pos, { r: x.r, t: x.t, via: roots.has(s) ? null : { subject: s, relation: how.relation } });
          order.push(x.pos);
        }
        const ids = x.r.ids || [];
        const reachAs = (t, windows, relation) => {
          if (!reach.has(t)) reach.set(t, { windows, relation });
        };
        if (roles.has("child") || roles.has("child_quantity")) {
          for (const p of ids.filter((y) => y.role === "parent").map((y) => y.id)) {
            if (x.r.action === "DELETE") {
              if (open.has(p)) {
                held.set(p, (held.get(p) || []).concat([[open.get(p), x.t]]));
                open.delete(p);
              }
            } else if (!open.has(p)) open.set(p, x.t);
          }
        }
        if (roles.has("output") || roles.has("output_quantity")) {
          for (const y of ids.filter((y) => y.role === "input" || y.role === "input_quantity")) {
            reachAs(y.id, clip(how.windows, -Infinity, x.t), "input");
          }
        }
        if (roles.has("epc") || roles.has("quantity")) {
          for (const y of ids.filter((y) => y.role === "ilmd_lot")) reachAs(y.id, how.windows, "lot");
        }
      }
      for (const [p, t] of open) held.set(p, (held.get(p) || []).concat([[t, Infinity]]));
      for (const [p, ws] of held) {
        const windows = ws.flatMap(([a, b]) => clip(how.windows, a, b));
        if (!reach.has(p)) reach.set(p, { windows, relation: "held" });
      }
      // A lot's own record leads to the lots it was made from.
      for (const [h, i] of chain) {
        const r = byPos.get(h + "/" + i);
        if (r && r.kind === "lot" && r.id === s) {
          for (const id of r.raw_material_ids || []) {
            if (!reach.has(id)) reach.set(id, { windows: how.windows, relation: "input" });
          }
        }
      }
    }
    return order.map((p) => shown.get(p)).sort((a, b) => a.t - b.t);
  }
  function shortId(id) {
    const sscc = /\/00\/(\d{18})/.exec(id);
    if (sscc) return "pallet " + sscc[1];
    const lot = /\/01\/(\d{14})\/10\/([^/]+)/.exec(id);
    if (lot) return "lot " + decodeURIComponent(lot[2]);
    const item = /\/01\/(\d{14})\/21\/([^/]+)/.exec(id);
    if (item) return "item " + decodeURIComponent(item[2]);
    return id;
  }
  function viaText(via) {
    if (!via) return null;
    const what = shortId(via.subject);
    if (via.relation === "held") return what + ", which held this item";
    if (via.relation === "lot") return what + ", which this item belongs to";
    if (via.relation === "input") return what + ", which it was made from";
    return what;
  }

  // ---- the model from verified records ---------------------------------------------
  function model(records, subject) {
    const m = {
      product: null,
      lots: [],
      locations: new Map(),
      qualifications: new Map(),
      events: [],
      corrected: new Set(),
      corrections: [],
      sales: [],
      reviews: new Map(),
      reviewTotals: null,
    };
    for (const { record: r } of records) {
      switch (r.kind) {
        case "product":
          if (r.gtin === subject.gtin && !m.product) m.product = r;
          break;
        case "lot":
          m.lots.push(r);
          break;
        case "location":
          m.locations.set(r.gln, r);
          break;
        case "qualification":
          // Later records (a revocation) replace earlier ones of the same certificate.
          m.qualifications.set(r.org + "|" + r.qualification_kind + "|" + r.number, r);
          break;
        case "event":
        case "inspection":
          m.events.push(r);
          break;
        case "correction":
          m.corrections.push(r);
          for (const h of r.corrects || []) m.corrected.add(h);
          break;
        case "sale":
          m.sales.push(r);
          break;
        case "review":
          m.reviews.set(r.review_key + "|" + r.gtin, { review: r, answer: null, hidden: null });
          // The product's totals after the newest review (hidden ones count).
          if (!m.reviewTotals || r.product_reviews > m.reviewTotals.count) {
            m.reviewTotals = { count: r.product_reviews, sum: r.product_rating_sum };
          }
          break;
      }
    }
    // Answers and hidings name a review that precedes them on the same chain.
    for (const { record: r } of records) {
      const x = m.reviews.get(r.review_key + "|" + r.gtin);
      if (!x) continue;
      if (r.kind === "review_answer") x.answer = r;
      if (r.kind === "review_hidden") x.hidden = r;
    }
    m.events = m.events
      .filter((e) => !m.corrected.has(e.hash_id))
      .sort((a, b) => Date.parse(a.event_time) - Date.parse(b.event_time));
    return m;
  }

  function placeOf(m, ev) {
    const gln = (uri) => {
      const x = /\/414\/(\d{13})/.exec(uri || "");
      return x ? x[1] : null;
    };
    const loc = m.locations.get(gln(ev.biz_location)) || m.locations.get(gln(ev.read_point));
    if (loc) return { loc, text: loc.name };
    const asset = /\/8004\/([^/?]+)/.exec(ev.read_point || "");
    if (asset) return { loc: null, text: "vehicle " + decodeURIComponent(asset[1]) };
    return { loc: null, text: ev.biz_location || ev.read_point || "" };
  }

  // The verified history must be the one the scanned link names (the verifier checked
  // that it is the bundle's own subject and nothing else): a node cannot pass off
  // another product's genuine history.
  function checkSubject(result, linked) {
    const s = result.subject;
    const dec = (x) => (x === null || x === undefined ? null : decodeURIComponent(x));
    if (s.gtin !== linked.gtin || dec(s.lot) !== dec(linked.lot) || dec(s.serial) !== dec(linked.serial)) {
      return "the history is of " + result.subject.itemId + (s.lotId ? " " + s.lotId : "") + " (GTIN " + s.gtin + "), not of what the link names";
    }
    return null;
  }

  // ---- drawing ------------------------------------------------------------------------
  function chart(readings, range) {
    const pts = readings
      .map((r) => ({ t: Date.parse(r.time), v: Number(r.value), r }))
      .filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v))
      .sort((a, b) => a.t - b.t);
    if (!pts.length) return null;
    const W = 640, H = 240, L = 44, R = 10, T = 12, B = 34;
    let lo = Math.min(...pts.map((p) => p.v));
    let hi = Math.max(...pts.map((p) => p.v));
    if (range) {
      lo = Math.min(lo, range.min);
      hi = Math.max(hi, range.max);
    }
    const pad = Math.max(0.5, (hi - lo) * 0.12);
    lo -= pad;
    hi += pad;
    const t0 = pts[0].t, t1 = Math.max(pts[pts.length - 1].t, t0 + 1);
    const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
    const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
    const s = svg("svg", {
      viewBox: "0 0 " + W + " " + H,
      class: "chart",
      role: "img",
      "aria-label": "Temperature readings" + (range ? ", allowed " + range.min + " to " + range.max : ""),
    });
    if (range) {
      s.append(svg("rect", { x: L, y: y(range.max), width: W - L - R, height: y(range.min) - y(range.max), class: "band" }));
      for (const v of [range.min, range.max]) {
        s.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "limit" }));
        s.append(svg("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end", class: "tick" }, String(v)));
      }
    }
    s.append(svg("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }));
    s.append(svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }));
    s.append(svg("polyline", { points: pts.map((p) => x(p.t) + "," + y(p.v)).join(" "), class: "line" }));
    for (const p of pts) {
      const out = range && (p.v < range.min || p.v > range.max);
      const c = svg("circle", { cx: x(p.t), cy: y(p.v), r: out ? 5 : 3, class: out ? "dot out" : "dot" });
      c.append(svg("title", {}, when(p.r.time) + ": " + p.v + unitSymbol(p.r.uom)));
      s.append(c);
    }
    const day = (t) => new Date(t).toISOString().slice(5, 16).replace("T", " ");
    s.append(svg("text", { x: L, y: H - 12, class: "tick" }, day(t0) + " UTC"));
    s.append(svg("text", { x: W - R, y: H - 12, "text-anchor": "end", class: "tick" }, day(t1) + " UTC"));
    return s;
  }

  function qualificationStatus(q, today) {
    if (q.revoked) return "revoked: " + q.revoked;
    if (today < q.valid_from) return "not yet valid";
    if (today > q.valid_to) return "expired";
    return "valid";
  }

  function render(m, result, subject, wb) {
    const out = $("verified");
    out.textContent = "";
    $("title").textContent = m.product.name;
    document.title = m.product.name;
    const lot = m.lots.find((l) => l.gtin === subject.gtin && (!subject.lot || l.lot === subject.lot)) || null;
    const withWb = (href) => href + (wb ? "?wb=" + encodeURIComponent(wb) : "");

    // What it is.
    const facts = el("dl", {});
    const fact = (k, ...v) => facts.append(el("dt", {}, k), el("dd", {}, ...v));
    fact("Product", m.product.name);
    fact("Brand", m.product.brand);
    fact("Made by", m.product.owner_name || m.product.owner);
    fact("GTIN", m.product.gtin);
    if (subject.lot) fact("Lot", subject.lot);
    if (subject.serial) fact("Serial", subject.serial);
    out.append(el("section", { class: "card", id: "what" }, el("h2", {}, "What it is"), facts));

    // Where it came from.
    const lots = lot ? [lot] : m.lots.filter((l) => l.gtin === subject.gtin);
    const originLots = lots.length ? lots : m.lots;
    for (const l of originLots.slice(0, 3)) {
      const o = m.locations.get(l.origin_gln);
      const d = el("dl", {});
      const add = (k, ...v) => d.append(el("dt", {}, k), el("dd", {}, ...v));
      add(o && o.location_kind === "farm" ? "Harvested" : "Made", l.produced_on);
      if (o) {
        add(
          "Where",
          o.name,
          el("br"),
          el("span", { class: "muted" }, o.address),
          o.latitude && o.longitude ? el("span", { class: "muted" }, " (" + o.latitude + ", " + o.longitude + ")") : null,
        );
      }
      add("Quantity", l.quantity + " " + l.unit);
      if (l.claims && l.claims.length) add("Claims", l.claims.join(", "));
      const sec = el("section", { class: "card origin" }, el("h2", {}, "Origin — lot " + l.lot), d);
      if (l.inputs && l.inputs.length) {
        sec.append(
          el(
            "details",
            {},
            el("summary", {}, "Inputs used (" + l.inputs.length + ")"),
            el(
              "ul",
              {},
              l.inputs.map((i) =>
                el("li", {}, words(i.kind) + ": " + i.name + " — " + i.amount, i.applied_on ? el("span", { class: "muted" }, " (" + i.applied_on + ")") : null),
              ),
            ),
          ),
        );
      }
      if (l.raw_materials && l.raw_materials.length) {
        sec.append(
          el("h3", {}, "Made from"),
          el(
            "ul",
            {},
            l.raw_materials.map((r) =>
              el("li", {}, el("a", { href: withWb("/01/" + r.gtin + "/10/" + encodeURIComponent(r.lot)) }, "lot " + r.lot + " of " + r.gtin)),
            ),
          ),
        );
      }
      out.append(sec);
    }

    // The journey.
    const temps = [];
    let range = null;
    const tl = el("ol", { class: "timeline", id: "timeline" });
    const steps = timeline(result);
    for (const { r: ev, via } of steps) {
      const place = placeOf(m, ev);
      const label = stepLabel(ev, place.loc);
      const readings = (ev.readings || []).filter(isTemperature);
      temps.push(...readings);
      range = range || rangeOf(ev.allowed_range);
      const dispKey = localName(ev.kind === "inspection" ? ev.outcome : ev.disposition);
      const disp = Object.hasOwn(DISPOSITION, dispKey) ? DISPOSITION[dispKey] : words(dispKey);
      const li = el(
        "li",
        { class: "step", "data-step": localName(ev.biz_step) },
        el("time", {}, when(ev.event_time)),
        el("b", {}, label),
        disp ? el("span", { class: "disp" }, " — " + disp) : null,
        el("div", {}, place.text, el("span", { class: "muted" }, " · " + (ev.org_name || ev.org))),
        via ? el("div", { class: "via muted" }, viaText(via)) : null,
      );
      if (readings.length) {
        const vals = readings.map((r) => Number(r.value));
        const r0 = rangeOf(ev.allowed_range) || range;
        const outside = r0 ? vals.filter((v) => v < r0.min || v > r0.max).length : 0;
        li.append(
          el(
            "div",
            { class: outside ? "temps warn" : "temps" },
            readings.length + " temperature readings, " + Math.min(...vals) + " to " + Math.max(...vals) + unitSymbol(readings[0].uom) +
              (outside ? " — " + outside + " outside the allowed range" : ""),
          ),
        );
      }
      tl.append(li);
    }
    const complete = el(
      "p",
      { class: "muted", id: "complete" },
      "Complete up to block " + result.anchorHeight + ", " + new Date(result.anchorTimeMs).toISOString().slice(0, 16).replace("T", " ") + " UTC: every record of this history up to then is here.",
    );
    out.append(el("section", { class: "card", id: "journey" }, el("h2", {}, "Journey"), steps.length ? tl : el("p", {}, "No published events yet."), complete));
    if (m.corrections.length) {
      out.append(el("p", { class: "muted" }, m.corrected.size + " event(s) were declared in error by their recorder and are not shown."));
    }

    // Cold chain.
    if (temps.length) {
      const c = chart(temps, range);
      const sec = el("section", { class: "card", id: "coldchain" }, el("h2", {}, "Cold chain"), c);
      const outside = range ? temps.filter((r) => Number(r.value) < range.min || Number(r.value) > range.max) : [];
      sec.append(
        el(
          "p",
          { class: "muted" },
          temps.length + " readings" +
            (range ? "; allowed " + range.min + " to " + range.max + unitSymbol(range.uom) + " (shaded)" : "") +
            (outside.length ? "; " + outside.length + " outside, marked red" : ""),
        ),
      );
      out.append(sec);
    }

    // Certificates.
    const today = new Date().toISOString().slice(0, 10);
    if (m.qualifications.size) {
      out.append(
        el(
          "section",
          { class: "card", id: "certificates" },
          el("h2", {}, "Certificates"),
          el(
            "ul",
            {},
            [...m.qualifications.values()].map((q) => {
              const st = qualificationStatus(q, today);
              return el(
                "li",
                { class: st === "valid" ? "" : "lapsed" },
                el("b", {}, words(q.qualification_kind)),
                " " + q.number + " — " + q.issuer + ", " + q.valid_from + " to " + q.valid_to + " ",
                el("span", { class: "status" }, "(" + st + "; checked by " + q.verified_by + ")"),
              );
            }),
          ),
        ),
      );
    }

    // Sold and delivered (no buyer is ever named).
    if (m.sales.length) {
      const byDay = m.sales
        .filter((x) => x.gtin === subject.gtin && (!subject.lot || x.lot_id.endsWith("/10/" + encodeURIComponent(subject.lot))))
        .sort((a, b) => (a.delivered_on < b.delivered_on ? -1 : 1));
      if (byDay.length) {
        out.append(
          el(
            "section",
            { class: "card", id: "sales" },
            el("h2", {}, "Sold"),
            el(
              "ul",
              {},
              byDay.map((x) =>
                el("li", { "data-sale": "" }, "Sold by " + x.seller_name + (x.platform_name ? " on " + x.platform_name : "") + ", " + x.quantity + " × delivered on " + x.delivered_on),
              ),
            ),
          ),
        );
      }
    }

    // Reviews of verified purchases.
    const reviews = [...m.reviews.values()].filter((x) => x.review.gtin === subject.gtin);
    if (reviews.length) {
      const t = m.reviewTotals;
      const avg = t && t.count ? (t.sum / t.count).toFixed(1) : "–";
      const stars = (n) => "★".repeat(n) + "☆".repeat(5 - n);
      const sec = el(
        "section",
        { class: "card", id: "reviews" },
        el("h2", {}, "Reviews"),
        el("p", { class: "muted", id: "review-totals" }, avg + " of 5 from " + (t ? t.count : 0) + " verified purchases of this product (hidden reviews count too)"),
      );
      for (const x of reviews) {
        const r = x.review;
        const li = el(
          "article",
          { class: "review", "data-review-state": r.verified_purchase ? "verified" : "unverified" },
          el("p", {}, el("span", { class: "stars", "aria-label": r.rating + " of 5 stars" }, stars(r.rating)), " ", el("b", {}, x.hidden ? "(hidden)" : r.title)),
          x.hidden
            ? el("p", { class: "muted" }, "Hidden by " + x.hidden.by + ": " + x.hidden.reason + ". It still counts in the average.")
            : el("p", {}, r.text),
          el(
            "p",
            { class: "muted" },
            el("span", { class: "verified-purchase" }, "✔ Verified purchase"),
            " — sold by " + r.seller_name + (r.platform_name ? " on " + r.platform_name : "") + ", delivered " + r.delivered_on,
          ),
          x.answer ? el("p", { class: "answer" }, el("b", {}, x.answer.by + " answered: "), x.answer.text) : null,
        );
        sec.append(li);
      }
      out.append(sec);
    }

    // How it was checked.
    const details = el(
      "details",
      { class: "card", id: "checks" },
      el("summary", {}, "How this was checked"),
      el(
        "ul",
        {},
        el("li", {}, "Consortium: chain ", el("code", {}, result.chainId), ", genesis ", el("code", {}, result.genesisHash.slice(0, 16) + "…"), " matches the fingerprint ", el("code", {}, result.fingerprint), " in the scanned link."),
        el("li", {}, result.records.length + " records, each proven by an RFC 6962 Merkle path to its block's open-tier root."),
        el("li", {}, "Complete: the latest record of each of the " + result.history.chains.length + " subjects of this history (the item, what held it, what it was made from, places, certificates, validators) proven from block " + result.anchorHeight + "'s heads root, and every record back from it linked and present."),
        el("li", {}, result.headers + " block headers, each with a commit certificate signed by validators holding more than two thirds of the voting power (Ed25519, checked here)."),
        el("li", {}, "Validators: " + result.validators.map((v) => v.key.slice(0, 12) + "… (power " + v.power + ")").join(", ") + (result.validatorSetChanges ? "; then " + result.validatorSetChanges + " governed change(s), each proven" : "") + "."),
        el("li", {}, "Complete up to block " + result.anchorHeight + ". Checked in this browser in " + Math.round(result.ms) + " ms."),
      ),
    );
    out.append(details);
    out.hidden = false;
  }

  function badge(state, title, detail) {
    const b = $("badge");
    b.dataset.state = state;
    b.className = "badge " + state;
    b.textContent = "";
    b.append(el("strong", {}, title));
    if (detail) b.append(el("span", { class: "why" }, detail));
  }

  async function main() {
    // WebCrypto exists only in secure contexts (HTTPS, or localhost). Over plain HTTP
    // from another host (a phone on the network reaching a node directly) nothing can
    // be checked: say so, and leave the node's copy, which is marked not verified.
    if (!window.isSecureContext || !window.crypto || !crypto.subtle) {
      badge(
        "unverified",
        "Not verified — this browser cannot check it here",
        "Browsers check signatures only on pages served over HTTPS; this page came over plain HTTP from " +
          location.host + ". The history below is shown as the node reports it. Open the page over HTTPS, " +
          "or download the proof bundle and check it with waybill verify-proof.",
      );
      return;
    }
    const fallback = $("history");
    if (fallback) fallback.remove();
    $("title").textContent = "Product history";
    badge("checking", "Checking…", "verifying this history against the consortium's validators");
    const wb = new URLSearchParams(location.search).get("wb");
    const linked = subjectOf(location.pathname);
    let bundle;
    try {
      bundle = JSON.parse($("wb-bundle").textContent);
    } catch (e) {
      badge("failed", "Not verified", "format: the page carries no readable proof bundle");
      return;
    }
    const t0 = performance.now();
    const result = await WaybillProof.verify(bundle, { fingerprint: wb });
    if (!result.ok) {
      badge("failed", "Not verified — check failed: " + result.step, result.detail);
      $("verified").hidden = false;
      $("verified").append(el("p", { class: "card" }, "The history this node served is not shown: it did not pass the check above."));
      return;
    }
    const why = checkSubject(result, linked);
    if (why) {
      badge("failed", "Not verified — check failed: subject", why);
      return;
    }
    const m = model(result.records, linked);
    render(m, result, linked, wb);
    const ms = Math.round(performance.now() - t0);
    document.body.dataset.verifyMs = String(ms);
    badge(
      "verified",
      "✔ Verified",
      "complete up to block " + result.anchorHeight + "; " + result.records.length + " records in " + result.headers + " blocks, signed by the consortium's validators (" +
        result.signers.length + " of " + result.validators.length + " signing, ≥ 2/3 of voting power); consortium " +
        result.fingerprint + " from the QR code. Checked here in " + ms + " ms.",
    );
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
  else main();
})();
