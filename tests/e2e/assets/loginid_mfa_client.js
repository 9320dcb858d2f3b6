// A small client of LoginID's MFA flow (/fido2/v2/mfa), for authcore's
// browser test (tests/e2e/test_mfa_browser.py). It is not LoginID's code:
// it does, step by step, what websdk3's packages/core does (controllers/
// mfa.ts beginFlow / performAction / invokeMfaApi, validators/mfa.ts,
// webauthn/webauthn.ts and webauthn-helper.ts, store/*, session/index.ts,
// api/core/request.ts), with the same requests, headers, storage keys and
// handling of the flow's `session`:
//
// * every request: Accept and Content-Type application/json, a JSON body;
//   every step after begin sends the session bare in Authorization;
// * begin clears the trust set, sends deviceInfo (with the deviceId a
//   completed flow gave, from localStorage), the user and an `auth` trust
//   ID (a JWS {id, exp} signed ES256 by a key kept in IndexedDB, its public
//   JWK in the header), stores {username, flow, session, next};
// * an action takes its payload from `next` when none is given: a passkey
//   action options[0].value (parsed as parseJwt("." + value)), otp:email
//   the label of option "email:primary", otp:sms the first option's label;
// * a 401 whose body has a session is the next step (MfaNext): stored,
//   answered as session details; a 2xx Mfa is stored as cookies
//   (LoginID_<appId>_access_token and friends) and its deviceId kept;
// * passkey:tx with a txPayload first replaces the payload (mfa/payload),
//   then performs the action on the new session.
//
// Left out: client-events error reports and the passkey sync signals after a
// sign-in (side channels the flow doesn't depend on), wallet/merchant trust
// IDs, conditional mediation.

const b64 = {
  encode(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  },
  decode(text) {
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  },
};

// utils/crypto parseJwt: the second part of a JWT as JSON.
function parseJwt(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(atob(part).split("")
      .map((c) => "%" + ("00" + c.charCodeAt(0).toString(16)).slice(-2)).join(""));
    return JSON.parse(json);
  } catch (e) {
    return undefined;
  }
}

export class ApiError extends Error {
  constructor(status, body) {
    super(`status: ${status}; body: ${JSON.stringify(body)}`);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

// store/trust-store.ts: one ES256 key per (app, username), in IndexedDB.
class TrustStore {
  constructor(appId) {
    this.appId = appId;
  }

  open() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open("loginid-trust-store", 1);
      request.onupgradeneeded = () => request.result.createObjectStore("LoginID_trust-id",
                                                                       {keyPath: "key"});
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  async run(mode, fn) {
    const db = await this.open();
    return await new Promise((resolve, reject) => {
      const request = fn(db.transaction("LoginID_trust-id", mode).objectStore("LoginID_trust-id"));
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    }).finally(() => db.close());
  }

  async setOrSignWithTrustId(username) {
    if (!username) return "";
    const key = `${this.appId}\u0000${username}`;
    let record = await this.run("readonly", (store) => store.get(key));
    if (!record) {
      const keyPair = await crypto.subtle.generateKey({name: "ECDSA", namedCurve: "P-256"},
                                                      false, ["sign"]);
      let id = "";
      const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
      for (let i = 0; i < 25; i++) id += chars.charAt(Math.floor(Math.random() * chars.length));
      record = {key, id, appId: this.appId, username, keyPair};
      await this.run("readwrite", (store) => store.put(record));
    }
    const jwk = await crypto.subtle.exportKey("jwk", record.keyPair.publicKey);
    const encode = (value) => b64.encode(new TextEncoder().encode(JSON.stringify(value)));
    // helpers/index.ts toTrustIDPayload: a minute.
    const unsigned = `${encode({alg: "ES256", jwk})}.` +
      `${encode({id: record.id, exp: Math.floor(Date.now() / 1000) + 60})}`;
    const signature = await crypto.subtle.sign({name: "ECDSA", hash: {name: "SHA-256"}},
                                               record.keyPair.privateKey,
                                               new TextEncoder().encode(unsigned));
    return `${unsigned}.${b64.encode(signature)}`;
  }
}

const FACTOR_PRIORITY = ["passkey:reg", "passkey:auth", "passkey:tx", "otp:sms", "otp:email",
                         "external"];

export class LoginIDMfaClient {
  constructor({baseUrl, appId}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.appId = appId;
    // What a test wants to see of the wire: method, path, headers, body.
    this.requests = [];
  }

  // -- storage, as the SDK keys it -------------------------------------------

  get infoKey() { return `LoginID_${this.appId}_mfa-session`; }
  get deviceKey() { return `LoginID_${this.appId}_device-id`; }

  getInfo() { return JSON.parse(localStorage.getItem(this.infoKey) || "null"); }
  persistInfo(info) { localStorage.setItem(this.infoKey, JSON.stringify(info)); }
  updateSession(session) { this.persistInfo({...(this.getInfo() || {}), session}); }
  getDeviceId() { return localStorage.getItem(this.deviceKey) || ""; }

  // store/local-storage.ts: an undefined value is not stored (the old stays).
  persistDeviceId(deviceId) {
    if (deviceId !== undefined) localStorage.setItem(this.deviceKey, deviceId);
  }

  tokenName(kind) { return `LoginID_${this.appId}_${kind}`; }

  setTokenSet(result) {
    const set = (name, token) => {
      if (!token) return;
      const exp = parseJwt(token)?.exp;
      document.cookie = `${name}=${token}; Expires=${exp ? new Date(exp * 1000).toUTCString() : ""};`;
    };
    set(this.tokenName("id_token"), result.idToken);
    set(this.tokenName("access_token"), result.accessToken);
    set(this.tokenName("refresh_token"), result.refreshToken);
    set(this.tokenName("payload_signature"), result.payloadSignature);
  }

  getTokenSet() {
    const read = (name) => document.cookie.split("; ").find((c) => c.startsWith(name + "="))
      ?.slice(name.length + 1);
    return {idToken: read(this.tokenName("id_token")),
            accessToken: read(this.tokenName("access_token")),
            refreshToken: read(this.tokenName("refresh_token")),
            payloadSignature: read(this.tokenName("payload_signature"))};
  }

  logout() {
    for (const kind of ["token", "id_token", "access_token", "refresh_token",
                        "payload_signature"]) {
      document.cookie = `${this.tokenName(kind)}=; expires=Thu, 01 Jan 1970 00:00:00 UTC`;
    }
  }

  // -- the wire (api/core/request.ts) ----------------------------------------

  async request(path, body, authorization) {
    const headers = {Accept: "application/json", "Content-Type": "application/json"};
    if (authorization) headers.Authorization = authorization;
    this.requests.push({method: "POST", path, headers: {...headers}, body});
    const response = await fetch(this.baseUrl + path, {method: "POST", headers,
                                                       body: JSON.stringify(body)});
    const text = await response.text();
    const data = text && (response.headers.get("Content-Type") || "").includes("json")
      ? JSON.parse(text) : (text || undefined);
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  // -- controllers/mfa.ts ----------------------------------------------------

  async beginFlow(username, options = {}) {
    localStorage.removeItem("LoginID_checkout-id");
    localStorage.removeItem("LoginID_trace-id");
    localStorage.removeItem("LoginID_trust-set");
    const deviceId = options.deviceId || this.getDeviceId();
    const deviceInfo = {
      clientType: "browser", screenWidth: window.screen.width,
      screenHeight: window.screen.height, clientName: "", clientVersion: "", osName: "",
      osVersion: "", osArch: "", hasBluetooth: false,
      webauthnCapabilities: JSON.stringify(
        PublicKeyCredential.getClientCapabilities
          ? await PublicKeyCredential.getClientCapabilities() : {}),
      ...(deviceId && {deviceId}),
    };
    const trustId = await new TrustStore(this.appId).setOrSignWithTrustId(username);
    const next = await this.request("/fido2/v2/mfa/begin", {
      deviceInfo,
      user: {username, usernameType: options.usernameType || "other",
             displayName: options.displayName || username},
      trustItems: {...(trustId && {auth: trustId})},
      ...(options.txPayload && {payload: options.txPayload}),
      ...(options.traceId && {traceId: options.traceId}),
    });
    const info = {username, flow: next.flow, session: next.session, next: next.next};
    this.persistInfo(info);
    this.logout();
    return this.details(info);
  }

  async performAction(factorName, options = {}) {
    const info = this.getInfo();
    const {payload, session} = this.validate(factorName, info, options);
    if (factorName === "passkey:tx" && options.txPayload) {
      const {txPayload, ...rest} = options;
      const next = await this.request("/fido2/v2/mfa/payload", {payload: txPayload}, session);
      this.persistInfo({username: info?.username, flow: next.flow, session: next.session,
                        next: next.next});
      return await this.performAction(factorName, rest);
    }
    switch (factorName) {
      case "passkey:reg":
      case "passkey:auth":
      case "passkey:tx": {
        const requestOptions = parseJwt("." + payload);
        if (!requestOptions) throw new Error("Invalid payload for passkeys.");
        if ("rpId" in requestOptions) {
          return await this.invoke(info?.username, async () => {
            const assertionResult = await this.getCredential(requestOptions);
            const path = factorName === "passkey:tx" ? "/fido2/v2/mfa/passkey/tx"
              : "/fido2/v2/mfa/passkey/auth";
            return await this.request(path, {assertionResult}, session);
          });
        }
        if ("rp" in requestOptions) {
          return await this.invoke(info?.username, async () => {
            if (options.displayName) requestOptions.user.displayName = options.displayName;
            const creationResult = await this.createCredential(requestOptions);
            return await this.request("/fido2/v2/mfa/passkey/reg", {creationResult}, session);
          });
        }
        break;
      }
      case "otp:email":
      case "otp:sms": {
        const {session: newSession} = await this.request("/fido2/v2/mfa/otp/request", {
          method: factorName === "otp:email" ? "email" : "sms", option: payload}, session);
        this.updateSession(newSession);
        return this.details(this.getInfo());
      }
      case "otp:verify":
        return await this.invoke(info?.username, async () =>
          await this.request("/fido2/v2/mfa/otp/verify", {otp: payload}, session));
      case "external":
        return await this.invoke(info?.username, async () =>
          await this.request("/fido2/v2/mfa/third-party/verify", {token: payload}, session));
    }
    throw new Error(`MFA factor ${factorName} is not supported in the current MFA flow.`);
  }

  getMfaSessionDetails() {
    return this.details(this.getInfo(), {...this.getTokenSet(), deviceId: this.getDeviceId()});
  }

  async invoke(username, fn) {
    try {
      const result = await fn();
      const info = this.getInfo();
      this.persistInfo({...(username && {username}), flow: info?.flow, next: []});
      this.setTokenSet(result);
      this.persistDeviceId(result.deviceId);
      return this.details(this.getInfo(), result);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401 && error.body?.session) {
        const info = {username, flow: error.body.flow, session: error.body.session,
                      next: error.body.next};
        this.persistInfo(info);
        return this.details(info);
      }
      throw error;
    }
  }

  // -- validators/mfa.ts -----------------------------------------------------

  validate(factorName, info, options) {
    const {session = info?.session, payload = ""} = options;
    if (!session) throw new Error("A session is required to perform MFA factor.");
    if (payload) return {session, payload};
    const canFind = ["passkey:reg", "passkey:auth", "passkey:tx", "otp:email", "otp:sms"];
    if (!info?.next || !canFind.includes(factorName)) {
      throw new Error("Payload is required to perform MFA factor.");
    }
    const factor = info.next.find((f) => f.action.name === factorName);
    if (!factor) throw new Error(`No matching factor found for ${factorName}.`);
    if (!factor.options?.length) throw new Error(`Payload is required for ${factorName}.`);
    if (factorName.startsWith("passkey:")) return {session, payload: factor.options[0].value};
    const option = factorName === "otp:email"
      ? factor.options.find((o) => o.name === "email:primary")?.label
      : factor.options[0]?.label;
    if (!option) throw new Error(`Contact is not found for ${factorName}.`);
    return {session, payload: option};
  }

  // -- webauthn/webauthn.ts, webauthn-helper.ts --------------------------------

  async createCredential(init) {
    const credential = await navigator.credentials.create({publicKey: {
      attestation: init.attestation,
      authenticatorSelection: {...init.authenticatorSelection},
      challenge: b64.decode(init.challenge),
      excludeCredentials: init.excludeCredentials?.map((c) => ({
        id: b64.decode(c.id), transports: c.transports, type: c.type})),
      extensions: init.extensions,
      pubKeyCredParams: init.pubKeyCredParams,
      rp: init.rp,
      timeout: init.timeout,
      user: {...init.user, id: b64.decode(init.user.id)},
    }});
    if (credential === null) throw new Error("Failed to create the passkey credential.");
    const response = credential.response;
    const publicKey = response.getPublicKey && response.getPublicKey();
    const publicKeyAlg = response.getPublicKeyAlgorithm && response.getPublicKeyAlgorithm();
    const authenticatorData = response.getAuthenticatorData && response.getAuthenticatorData();
    const transports = response.getTransports && response.getTransports();
    return {
      attestationObject: b64.encode(response.attestationObject),
      clientDataJSON: b64.encode(response.clientDataJSON),
      credentialId: credential.id,
      ...(publicKey && {publicKey: b64.encode(publicKey)}),
      ...(publicKeyAlg && {publicKeyAlgorithm: publicKeyAlg}),
      ...(authenticatorData && {authenticatorData: b64.encode(authenticatorData)}),
      ...(transports && {transports}),
    };
  }

  async getCredential(init) {
    const credential = await navigator.credentials.get({publicKey: {
      allowCredentials: init.allowCredentials?.map((c) => ({
        id: b64.decode(c.id), transports: c.transports, type: c.type})),
      challenge: b64.decode(init.challenge),
      extensions: init.extensions,
      rpId: init.rpId,
      timeout: init.timeout,
      userVerification: init.userVerification,
    }});
    if (credential === null) throw new Error("Failed to create the passkey credential.");
    const response = credential.response;
    return {
      authenticatorData: b64.encode(response.authenticatorData),
      clientDataJSON: b64.encode(response.clientDataJSON),
      credentialId: credential.id,
      signature: b64.encode(response.signature),
      ...(response.userHandle && {userHandle: b64.encode(response.userHandle)}),
    };
  }

  // -- defaults/index.ts toMfaSessionDetails -----------------------------------

  details(info, data) {
    const remainingFactors = (info?.next || []).map((factor) => {
      const {name, label, desc} = factor.action;
      const out = {type: name, label, ...(desc && {description: desc})};
      if (factor.options) {
        const labels = factor.options
          .filter((o) => (name === "otp:sms" || name === "otp:email") && o.label)
          .map((o) => o.label);
        if (labels.length) out.options = labels;
        if (name.startsWith("passkey:")) {
          const option = factor.options.find((o) => o.value);
          if (option) out.value = option.value;
        }
      }
      return out;
    });
    const nextAction = FACTOR_PRIORITY.find((name) =>
      (info?.next || []).some((f) => f.action.name === name));
    const isComplete = !!data?.accessToken || !!data?.payloadSignature;
    return {
      ...(info?.username && {username: info.username}),
      ...(info?.flow && {flow: info.flow}),
      remainingFactors,
      ...(nextAction && {nextAction}),
      isComplete,
      ...(info?.session && {session: info.session}),
      ...(data?.idToken && {idToken: data.idToken}),
      ...(data?.accessToken && {accessToken: data.accessToken}),
      ...(data?.refreshToken && {refreshToken: data.refreshToken}),
      ...(data?.payloadSignature && {payloadSignature: data.payloadSignature}),
      ...(isComplete && data?.deviceId && {deviceId: data.deviceId}),
      ...(data?.passkeyInfo && {passkeyCredential: {...data.passkeyInfo}}),
    };
  }
}
