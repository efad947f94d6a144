// The outbox: what the driver did, kept in IndexedDB until the API has it.
//
// Every action has an event id of its own, made here; the API stores an event id
// once, so an action sent again after a lost answer is not counted twice. Actions
// go in the order they were made; one the network or the server could not take is
// tried again later (backing off up to five minutes); one the API refuses (4xx) is
// kept with the API's reason until the driver dismisses it.

import { api, ApiError } from "/static/js/api.js";

const DB = "lastmile-driver";
const STORE = "outbox";
const MAX_BACKOFF_S = 300;

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function openDb() {
  const opening = indexedDB.open(DB, 1);
  opening.onupgradeneeded = () => opening.result.createObjectStore(STORE, { keyPath: "id" });
  return request(opening);
}

// Worth trying again later: no answer at all, or the server's trouble, not the request's.
export function retriable(error) {
  if (!(error instanceof ApiError)) return true;
  return error.status >= 500 || [401, 408, 425, 429].includes(error.status);
}

// What the API said was wrong: its detail and the reasons it listed.
export function explain(error) {
  const reasons = (error?.body?.errors ?? []).map((e) => e.reason).filter(Boolean);
  return [error?.message ?? String(error), ...reasons].join(": ");
}

export class Outbox {
  constructor({ onChange = () => {}, onSent = () => {} } = {}) {
    this.onChange = onChange;
    this.onSent = onSent;
    this.db = null;
    this.flushing = null;
  }

  async #store(mode) {
    this.db ??= await openDb();
    return this.db.transaction(STORE, mode).objectStore(STORE);
  }

  async items() {
    const all = await request((await this.#store("readonly")).getAll());
    return all.sort((a, b) => a.created - b.created);
  }

  async #put(item) {
    await request((await this.#store("readwrite")).put(item));
  }

  async #remove(id) {
    await request((await this.#store("readwrite")).delete(id));
  }

  // Keep an action (``item.id`` is its event id) and try to send it now.
  async add(item) {
    await this.#put({ attempts: 0, next_at: 0, refused: null, uploaded: {}, created: Date.now(), ...item });
    this.onChange();
    return this.flush();
  }

  async dismiss(id) {
    await this.#remove(id);
    this.onChange();
  }

  // Send what is due, in order; an action that must wait stops the ones after it.
  flush({ force = false } = {}) {
    this.flushing ??= this.#flush(force).finally(() => { this.flushing = null; });
    return this.flushing;
  }

  async #flush(force) {
    if (!navigator.onLine) return;
    for (const item of await this.items()) {
      if (item.refused) continue;
      if (!force && item.next_at > Date.now()) break;
      try {
        const answer = await this.#send(item);
        await this.#remove(item.id);
        this.onSent(item, answer);
      } catch (error) {
        if (retriable(error)) {
          item.attempts += 1;
          const wait = Math.min(MAX_BACKOFF_S, 2 ** item.attempts) * (0.75 + Math.random() / 2);
          item.next_at = Date.now() + wait * 1000;
          await this.#put(item);
          this.onChange();
          break;
        }
        item.refused = explain(error);
        await this.#put(item);
        this.onSent(item, null, error);
      }
      this.onChange();
    }
  }

  async #send(item) {
    const route = `/routes/${item.route_id}`;
    if (item.kind === "event") {
      return api(`${route}/events`, { method: "POST", body: { events: [{ ...item.body, event_id: item.id }] } });
    }
    // A proof: its pictures first (each once: the file ids are kept), then the proof.
    const files = item.files ?? {};
    const uploaded = item.uploaded;
    const upload = async (key, kind, blob) => {
      if (uploaded[key] || !blob) return;
      const form = new FormData();
      form.append("kind", kind);
      form.append("order_id", item.order_id);
      form.append("file", blob, `${key}.${blob.type === "image/png" ? "png" : "jpg"}`);
      uploaded[key] = (await api(`${route}/pod/files`, { method: "POST", form })).id;
      await this.#put(item);
    };
    await upload("signature", "signature", files.signature);
    for (const [index, photo] of (files.photos ?? []).entries()) await upload(`photo${index}`, "photo", photo);
    const photoIds = Object.entries(uploaded).filter(([k]) => k.startsWith("photo")).map(([, v]) => v);
    return api(`${route}/pod`, {
      method: "POST",
      body: {
        ...item.body,
        event_id: item.id,
        signature_file_id: uploaded.signature ?? null,
        photo_file_ids: photoIds,
      },
    });
  }
}
