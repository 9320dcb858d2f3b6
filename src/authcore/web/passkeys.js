// Passkeys demo: registration, sign-in (with and without a username),
// transaction confirmation and passkey management against this server's
// LoginID-style /fido2/v2 REST API. Plain browser JS, no libraries: JSON
// carries binary values as base64url; WebAuthn wants ArrayBuffers.
//
// Every action reports in #status: data-action names the action, data-state
// is "busy", then "ok" or "error" (tests wait on these attributes).
"use strict";

(() => {
  const API = "/fido2/v2";
  const state = { jwt: "", userId: "" };
  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------ base64url

  function b64urlToBuffer(value) {
    const b64 = String(value).replace(/-/g, "+").replace(/_/g, "/");
    const padded = b64 + "===".slice((b64.length + 3) % 4);
    const binary = atob(padded);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function bufferToB64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function randomB64url(size) {
    return bufferToB64url(crypto.getRandomValues(new Uint8Array(size)).buffer);
  }

  function decodeJwtClaims(jwt) {
    try {
      const payload = jwt.split(".")[1];
      return JSON.parse(new TextDecoder().decode(b64urlToBuffer(payload)));
    } catch (err) {
      return null;
    }
  }

  // ------------------------------------------------------------------ API

  class ApiError extends Error {
    constructor(status, code, message) {
      super(`${code}: ${message}`);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body, options = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    if (options.auth) {
      if (!state.jwt) {
        throw new ApiError(0, "no_jwt", "register or sign in first");
      }
      headers.Authorization = `Bearer ${state.jwt}`;
    }
    const response = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (err) {
        data = text;
      }
    }
    if (!response.ok) {
      const isObject = data !== null && typeof data === "object";
      const code = isObject && data.msgCode ? data.msgCode : `http_${response.status}`;
      const message = isObject && data.msg ? data.msg : response.statusText;
      throw new ApiError(response.status, code, message);
    }
    return data;
  }

  // ----------------------------------------- JSON options -> WebAuthn options

  function isPlainObject(value) {
    return value !== null && typeof value === "object"
      && Object.getPrototypeOf(value) === Object.prototype;
  }

  // Absent, or an empty JSON object ({} for a proto Struct); never a buffer.
  function isEmpty(value) {
    return value === undefined || value === null || value === ""
      || (isPlainObject(value) && Object.keys(value).length === 0);
  }

  // Drops absent members: WebAuthn dictionaries reject nulls.
  function compact(object) {
    const out = {};
    for (const [key, value] of Object.entries(object || {})) {
      if (!isEmpty(value)) {
        out[key] = value;
      }
    }
    return out;
  }

  function toDescriptor(d) {
    return compact({
      type: d.type || "public-key",
      id: b64urlToBuffer(d.id),
      transports: d.transports && d.transports.length ? d.transports : undefined,
    });
  }

  function toCreationOptions(o) {
    return compact({
      rp: compact(o.rp),
      user: {
        id: b64urlToBuffer(o.user.id),
        name: o.user.name,
        displayName: o.user.displayName || o.user.name,
      },
      challenge: b64urlToBuffer(o.challenge),
      pubKeyCredParams: (o.pubKeyCredParams || []).map((p) => ({
        type: p.type || "public-key",
        alg: Number(p.alg),
      })),
      timeout: o.timeout ? Number(o.timeout) : undefined,
      excludeCredentials: (o.excludeCredentials || []).map(toDescriptor),
      authenticatorSelection: compact(o.authenticatorSelection),
      attestation: o.attestation,
      extensions: o.extensions,
    });
  }

  function toRequestOptions(o) {
    const options = compact({
      challenge: b64urlToBuffer(o.challenge),
      timeout: o.timeout ? Number(o.timeout) : undefined,
      rpId: o.rpId,
      userVerification: o.userVerification,
      extensions: o.extensions,
    });
    // Empty for a discoverable (usernameless) sign-in: the authenticator
    // offers the passkeys it holds for this RP.
    options.allowCredentials = (o.allowCredentials || []).map(toDescriptor);
    return options;
  }

  // ------------------------------------------------------------- ceremonies

  async function createCredential(options) {
    const credential = await navigator.credentials.create({
      publicKey: toCreationOptions(options),
    });
    if (!credential) {
      throw new ApiError(0, "cancelled", "no credential was created");
    }
    const r = credential.response;
    const optional = (fn) => {
      try {
        return typeof r[fn] === "function" ? r[fn]() : undefined;
      } catch (err) {
        return undefined;
      }
    };
    const authenticatorData = optional("getAuthenticatorData");
    const publicKey = optional("getPublicKey");
    const publicKeyAlgorithm = optional("getPublicKeyAlgorithm");
    return compact({
      attestationObject: bufferToB64url(r.attestationObject),
      clientDataJSON: bufferToB64url(r.clientDataJSON),
      credentialId: bufferToB64url(credential.rawId),
      authenticatorData: authenticatorData ? bufferToB64url(authenticatorData) : undefined,
      publicKey: publicKey ? bufferToB64url(publicKey) : undefined,
      publicKeyAlgorithm: typeof publicKeyAlgorithm === "number" ? publicKeyAlgorithm : undefined,
      transports: optional("getTransports") || [],
    });
  }

  async function getAssertion(options) {
    const credential = await navigator.credentials.get({
      publicKey: toRequestOptions(options),
    });
    if (!credential) {
      throw new ApiError(0, "cancelled", "no passkey was used");
    }
    const r = credential.response;
    return compact({
      authenticatorData: bufferToB64url(r.authenticatorData),
      clientDataJSON: bufferToB64url(r.clientDataJSON),
      credentialId: bufferToB64url(credential.rawId),
      signature: bufferToB64url(r.signature),
      userHandle: r.userHandle ? bufferToB64url(r.userHandle) : undefined,
    });
  }

  // -------------------------------------------------------------------- UI

  function applicationId() {
    const id = $("app-id").value.trim();
    if (!id) {
      throw new ApiError(0, "no_application",
        "no application id: open the page with ?app=<applicationId>");
    }
    return id;
  }

  function username(required) {
    const name = $("username").value.trim();
    if (required && !name) {
      throw new ApiError(0, "no_username", "enter a username");
    }
    return name;
  }

  function setStatus(action, status, text) {
    const el = $("status");
    el.dataset.action = action;
    el.dataset.state = status;
    el.textContent = text;
  }

  function setBusy(busy) {
    for (const button of document.querySelectorAll("button")) {
      button.disabled = busy;
    }
  }

  function showJwt(jwt) {
    state.jwt = jwt.jwtAccess || "";
    state.userId = jwt.userId || "";
    $("jwt").textContent = state.jwt;
    $("user-id").textContent = state.userId;
    const claims = state.jwt ? decodeJwtClaims(state.jwt) : null;
    $("claims").textContent = claims ? JSON.stringify(claims, null, 2) : "";
  }

  function describeError(err) {
    if (err instanceof ApiError) {
      return err.message;
    }
    // DOMException from WebAuthn: NotAllowedError (cancelled or timed out),
    // InvalidStateError (already registered), SecurityError (bad RP ID).
    if (err && err.name) {
      return `${err.name}: ${err.message}`;
    }
    return String(err);
  }

  // Runs one action with #status reporting and the buttons disabled.
  function action(name, fn) {
    return async () => {
      setBusy(true);
      setStatus(name, "busy", "Working…");
      try {
        const text = await fn();
        setStatus(name, "ok", text);
      } catch (err) {
        setStatus(name, "error", `Failed: ${describeError(err)}`);
      } finally {
        setBusy(false);
      }
    };
  }

  async function register() {
    const name = username(true);
    const init = await api("POST", "/reg/init", {
      app: { id: applicationId() },
      user: { username: name, usernameType: "other", displayName: name },
      deviceInfo: { clientType: "browser", clientName: navigator.userAgent.slice(0, 200) },
    }, { auth: Boolean(state.jwt) }); // another passkey for the signed-in user needs its JWT
    const creationResult = await createCredential(init.registrationRequestOptions);
    const jwt = await api("POST", "/reg/complete", {
      session: init.session,
      creationResult,
      passkeyName: "Demo passkey",
    });
    showJwt(jwt);
    return `Registered a passkey for ${name}.`;
  }

  async function signIn(withUsername) {
    const body = { app: { id: applicationId() } };
    if (withUsername) {
      body.user = { username: username(true), usernameType: "other" };
    }
    const init = await api("POST", "/auth/init", body);
    const assertionResult = await getAssertion(init.assertionOptions);
    const jwt = await api("POST", "/auth/complete", { session: init.session, assertionResult });
    showJwt(jwt);
    return `Signed in as ${jwt.userId}${withUsername ? "" : " (usernameless)"}.`;
  }

  async function confirmTransaction() {
    const payload = $("tx-payload").value;
    if (!payload) {
      throw new ApiError(0, "no_payload", "enter the text to confirm");
    }
    $("tx-token").textContent = "";
    const init = await api("POST", "/tx/init", {
      username: username(true),
      txPayload: payload,
      txType: "text",
      nonce: randomB64url(16),
      appId: applicationId(),
    });
    const assertion = await getAssertion(init.assertionOptions);
    const done = await api("POST", "/tx/complete", {
      session: init.session,
      keyHandle: assertion.credentialId,
      clientData: assertion.clientDataJSON,
      authenticatorData: assertion.authenticatorData,
      signature: assertion.signature,
    });
    $("tx-token").textContent = done.token || "";
    return `Transaction confirmed: "${payload}".`;
  }

  function renderPasskeys(passkeys) {
    const list = $("passkeys");
    list.replaceChildren();
    for (const passkey of passkeys) {
      const item = document.createElement("li");
      item.dataset.passkeyId = passkey.id;
      const label = document.createElement("span");
      label.className = "passkey-name";
      label.textContent = passkey.name || passkey.id;
      const meta = document.createElement("small");
      const provider = passkey.providerName ? `, ${passkey.providerName}` : "";
      meta.textContent = ` created ${passkey.createdAt || "?"}${provider}`;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "delete-passkey";
      remove.dataset.passkeyId = passkey.id;
      remove.textContent = "Delete";
      remove.addEventListener("click", action("delete-passkey", () => deletePasskey(passkey.id)));
      item.append(label, meta, remove);
      list.append(item);
    }
    list.dataset.count = String(passkeys.length);
  }

  async function listPasskeys() {
    const passkeys = await api("GET", "/passkeys", undefined, { auth: true });
    const items = Array.isArray(passkeys) ? passkeys : [];
    renderPasskeys(items);
    return `You have ${items.length} passkey${items.length === 1 ? "" : "s"}.`;
  }

  async function deletePasskey(id) {
    await api("DELETE", `/passkeys/${encodeURIComponent(id)}`, undefined, { auth: true });
    const left = await listPasskeys();
    return `Deleted the passkey. ${left}`;
  }

  function signOut() {
    showJwt({});
    renderPasskeys([]);
    return "Forgot the JWT.";
  }

  function init() {
    const fromUrl = new URLSearchParams(window.location.search).get("app");
    const meta = document.querySelector('meta[name="authcore-demo-application-id"]');
    const fromServer = meta ? meta.content.trim() : "";
    $("app-id").value = fromUrl || fromServer;

    $("register").addEventListener("click", action("register", register));
    $("signin").addEventListener("click", action("signin", () => signIn(true)));
    $("signin-usernameless").addEventListener(
      "click", action("signin-usernameless", () => signIn(false)));
    $("tx-confirm").addEventListener("click", action("tx", confirmTransaction));
    $("list-passkeys").addEventListener("click", action("list-passkeys", listPasskeys));
    $("signout").addEventListener("click", action("signout", async () => signOut()));

    if (!window.isSecureContext || !window.PublicKeyCredential) {
      setStatus("init", "error", "Failed: this page needs a secure context (https or "
        + "http://localhost) and a browser with WebAuthn.");
      return;
    }
    setStatus("init", "ok", "Ready.");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
