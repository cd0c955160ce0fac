// A FAPI 2.0 relying party of kycvs in Node.js, with openid-client 6:
// pushed authorization requests (RFC 9126), private_key_jwt client
// authentication (RFC 7523), DPoP-bound tokens (RFC 9449), PKCE with S256
// and the iss check of the authorization response (RFC 9207). No client
// secret exists: the client proves itself with its private key, and its
// tokens are useless without a second key that never leaves this process.
//
// Make a key pair, register the public half, then run it:
//
//   node fapi2.js --new-key private.jwk public.jwks.json
//   kycvs clients create --name "Gov Air" --profile fapi2 --jwks public.jwks.json \
//     --redirect-uri https://localhost:9002/callback --json
//   KYCVS_ISSUER=http://localhost:8080 CLIENT_ID=... PRIVATE_JWK_FILE=private.jwk \
//     TLS_CERT_FILE=localhost.pem TLS_KEY_FILE=localhost-key.pem \
//     BASE_URL=https://localhost:9002 PORT=9002 node fapi2.js
//
// and open https://localhost:9002/. FAPI 2.0 allows a web client https
// redirect URIs only, even on localhost, so this app serves https: give it
// a certificate your browser trusts for localhost (mkcert makes one).
import http from 'node:http';
import https from 'node:https';
import { randomBytes, webcrypto } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as client from 'openid-client';

if (process.argv[2] === '--new-key') {
  // An ES256 key pair: FAPI 2.0 allows ES256 and PS256, not RS256.
  const { privateKey, publicKey } = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const kid = randomBytes(8).toString('hex');
  const priv = { ...(await webcrypto.subtle.exportKey('jwk', privateKey)), kid, alg: 'ES256', use: 'sig' };
  const pub = { ...(await webcrypto.subtle.exportKey('jwk', publicKey)), kid, alg: 'ES256', use: 'sig' };
  delete pub.key_ops;
  delete pub.ext;
  writeFileSync(process.argv[3], JSON.stringify(priv), { mode: 0o600 });
  writeFileSync(process.argv[4], JSON.stringify({ keys: [pub] }));
  process.exit(0);
}

const issuer = new URL(required('KYCVS_ISSUER'));
const clientId = required('CLIENT_ID');
const baseURL = required('BASE_URL').replace(/\/+$/, '');
const port = Number(process.env.PORT || 9002);
const redirectURI = `${baseURL}/callback`;

function required(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`set ${name}`);
    process.exit(2);
  }
  return v;
}

// The client's signing key for private_key_jwt; its public half is what
// kycvs has registered (jwks or jwks_uri).
const jwk = JSON.parse(readFileSync(required('PRIVATE_JWK_FILE'), 'utf8'));
const signingKey = await webcrypto.subtle.importKey('jwk', { ...jwk, key_ops: ['sign'] }, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);

const options = { execute: [client.enableNonRepudiationChecks] };
if (issuer.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(issuer.hostname)) {
  options.execute.push(client.allowInsecureRequests); // development only: kycvs on http://localhost
}
// Every assertion is signed with the key and names it by kid; its audience
// is the issuer, which kycvs accepts at every endpoint.
const config = await client.discovery(issuer, clientId, {}, client.PrivateKeyJwt({ key: signingKey, kid: jwk.kid }), options);

const flows = new Map();
const FLOW_COOKIE = 'kycvs_fapi_flow';
const FLOW_TTL_MS = 15 * 60 * 1000;
const statusText = { 0: 'not vaccinated', 1: 'partially vaccinated', 2: 'fully vaccinated' };

function page(res, status, title, body) {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`);
}

function cookie(req, name) {
  for (const part of (req.headers.cookie || '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return '';
}

// login pushes the authorization request to kycvs (authenticated with
// private_key_jwt, with a DPoP proof that names the key the code will be
// bound to) and sends the browser off with only client_id and request_uri.
async function login(req, res) {
  const id = randomBytes(24).toString('base64url');
  const flow = {
    state: client.randomState(),
    nonce: client.randomNonce(),
    verifier: client.randomPKCECodeVerifier(),
    // A DPoP key per flow; a real app may keep one per session.
    dpopKeys: await client.randomDPoPKeyPair('ES256'),
    expires: Date.now() + FLOW_TTL_MS,
  };
  flows.set(id, flow);
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: redirectURI,
    scope: 'openid vaccination_status',
    state: flow.state,
    nonce: flow.nonce,
    code_challenge: await client.calculatePKCECodeChallenge(flow.verifier),
    code_challenge_method: 'S256',
  }, { DPoP: client.getDPoPHandle(config, flow.dpopKeys) });
  const secure = baseURL.startsWith('https:') ? '; Secure' : '';
  res.writeHead(302, {
    Location: url.href,
    'Set-Cookie': `${FLOW_COOKIE}=${id}; Path=/; Max-Age=900; HttpOnly; SameSite=Lax${secure}`,
  });
  res.end();
}

// callback checks the answer (state, and iss against the issuer: RFC 9207),
// redeems the code with an assertion and a DPoP proof, and reads userinfo
// with the DPoP-bound access token.
async function callback(req, res) {
  const id = cookie(req, FLOW_COOKIE);
  const flow = flows.get(id);
  flows.delete(id);
  if (!flow || flow.expires < Date.now()) {
    page(res, 400, 'Start again', '<p>This answer does not belong to a check started here. <a href="/login">Start again</a>.</p>');
    return;
  }
  const DPoP = client.getDPoPHandle(config, flow.dpopKeys);
  let tokens, userinfo;
  try {
    tokens = await client.authorizationCodeGrant(config, new URL(req.url, baseURL), {
      expectedState: flow.state,
      expectedNonce: flow.nonce,
      pkceCodeVerifier: flow.verifier,
      idTokenExpected: true,
    }, undefined, { DPoP });
    if (tokens.token_type.toLowerCase() !== 'dpop') {
      throw new Error(`kycvs issued a ${tokens.token_type} token, not a DPoP-bound one`);
    }
    userinfo = await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub, { DPoP });
  } catch (err) {
    if (err instanceof client.AuthorizationResponseError && err.error === 'access_denied') {
      page(res, 200, 'Not shared', '<p>You did not share your vaccination status. You can show your certificate at the gate instead.</p>');
      return;
    }
    console.error('kycvs verification failed:', err.code || err.name, err.error || '', err.message);
    page(res, 502, 'Try again', '<p>kycvs could not check your status. <a href="/login">Try again</a>.</p>');
    return;
  }
  const status = tokens.claims().vaccination_status;
  if (!(status in statusText) || userinfo.vaccination_status !== status) {
    page(res, 502, 'Try again', '<p>kycvs did not send a vaccination status this app knows.</p>');
    return;
  }
  page(res, 200, 'Verified', `<p id="status" data-status="${status}" data-dpop-bound="true">Vaccination status: ${statusText[status]}, verified by kycvs.</p>`);
}

// https with the certificate given, else plain http (behind a proxy that
// terminates TLS, BASE_URL then being its https address).
const tls = process.env.TLS_CERT_FILE && { cert: readFileSync(process.env.TLS_CERT_FILE), key: readFileSync(required('TLS_KEY_FILE')) };
const handler = (req, res) => {
  const path = new URL(req.url, baseURL).pathname;
  const routes = {
    '/': (q, s) => page(s, 200, 'Check your vaccination status', '<p><a href="/login">Share my vaccination status with kycvs</a></p>'),
    '/login': login,
    '/callback': callback,
  };
  const route = req.method === 'GET' && routes[path];
  if (!route) {
    page(res, 404, 'Not found', '');
    return;
  }
  Promise.resolve(route(req, res)).catch((err) => {
    console.error(err);
    if (!res.headersSent) page(res, 500, 'Something went wrong', '');
  });
};
const server = tls ? https.createServer(tls, handler) : http.createServer(handler);

server.listen(port, '127.0.0.1', () => console.log(`FAPI 2.0 relying party on ${baseURL}`));

setInterval(() => {
  const now = Date.now();
  for (const [id, f] of flows) if (f.expires < now) flows.delete(id);
}, 60 * 1000).unref();
