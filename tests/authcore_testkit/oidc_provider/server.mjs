// A real OpenID provider (the npm package oidc-provider) for the OIDC login
// tests, on a loopback port. Configured from the environment:
//   OIDC_PORT     the port (the issuer is http://127.0.0.1:<port>)
//   OIDC_CLIENTS  JSON list of oidc-provider client metadata
// Accounts are made by the login form itself: POST /interaction/<uid>/login
// with account, email and email_verified logs that account in, so each test
// picks its own user. Consent is granted on the spot (there is nobody to ask).
// Prints "oidc-provider listening <issuer>" once it accepts connections.
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { createServer } from "node:http";

import Provider from "oidc-provider";

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.OIDC_CLIENTS || "[]");
const accounts = new Map();

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const signing = { ...privateKey.export({ format: "jwk" }), kid: randomUUID(), use: "sig", alg: "RS256" };

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signing] },
  cookies: { keys: [randomUUID()] },
  // The scope's claims in the ID token too (authcore reads email there).
  conformIdTokenClaims: false,
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const account = accounts.get(id);
    if (!account) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...account }; } };
  },
});
provider.proxy = false;

async function readForm(req) {
  let body = "";
  for await (const chunk of req) body += chunk;
  return Object.fromEntries(new URLSearchParams(body));
}

async function interaction(req, res) {
  const match = /^\/interaction\/([^/]+)(\/login)?$/.exec(new URL(req.url, issuer).pathname);
  if (!match) return false;
  const details = await provider.interactionDetails(req, res);
  if (match[2] && req.method === "POST") {
    const form = await readForm(req);
    accounts.set(form.account, {
      ...(form.email ? { email: form.email } : {}),
      email_verified: form.email_verified === "true",
      name: form.account,
    });
    await provider.interactionFinished(req, res, { login: { accountId: form.account } },
      { mergeWithLastSubmission: false });
    return true;
  }
  if (details.prompt.name === "consent") {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    const missing = details.prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } },
      { mergeWithLastSubmission: true });
    return true;
  }
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ uid: details.uid, prompt: details.prompt.name }));
  return true;
}

const callback = provider.callback();
const server = createServer(async (req, res) => {
  try {
    if (await interaction(req, res)) return;
  } catch (err) {
    res.writeHead(400, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: String(err && err.message) }));
    return;
  }
  callback(req, res);
});
server.listen(port, "127.0.0.1", () => {
  console.log(`oidc-provider listening ${issuer}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
