// A confidential, server-side relying party of kycvs in Node.js, with
// openid-client (https://github.com/panva/openid-client): discovery, the
// redirect (state, nonce, PKCE), the code exchange, ID token verification,
// reading vaccination_status, and the errors a person or the network can
// cause.
//
// Register it, then run it:
//
//   kycvs clients create --name "Example Venue" --redirect-uri http://localhost:9001/callback --json
//   npm ci
//   KYCVS_ISSUER=http://localhost:8080 CLIENT_ID=... CLIENT_SECRET=... \
//     BASE_URL=http://localhost:9001 PORT=9001 node app.js
//
// and open http://localhost:9001/.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';

const issuer = new URL(required('KYCVS_ISSUER'));
const clientId = required('CLIENT_ID');
const clientSecret = required('CLIENT_SECRET');
const baseURL = required('BASE_URL').replace(/\/+$/, '');
const port = Number(process.env.PORT || 9001);
const redirectURI = `${baseURL}/callback`;

function required(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`set ${name}`);
    process.exit(2);
  }
  return v;
}

// Discovery: every endpoint and the key set come from the issuer's
// /.well-known/openid-configuration. The secret goes in the form body
// (client_secret_post); kycvs accepts client_secret_basic too.
const options = {
  execute: [
    // Also verify the ID token's signature against the issuer's JWKS
    // (refetched when a token names a key ID it has not seen), not only
    // its claims.
    client.enableNonRepudiationChecks,
  ],
};
if (issuer.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(issuer.hostname)) {
  options.execute.push(client.allowInsecureRequests); // development only: kycvs on http://localhost
}
const config = await client.discovery(issuer, clientId, clientSecret, undefined, options);

// Flows in progress, by a random cookie. A real app keeps this in its
// session store.
const flows = new Map();
const FLOW_COOKIE = 'kycvs_flow';
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

// login sends the person to kycvs.
async function login(req, res) {
  const id = randomBytes(24).toString('base64url');
  const flow = {
    state: client.randomState(),
    nonce: client.randomNonce(),
    verifier: client.randomPKCECodeVerifier(),
    expires: Date.now() + FLOW_TTL_MS,
  };
  flows.set(id, flow);
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectURI,
    scope: 'openid vaccination_status',
    state: flow.state,
    nonce: flow.nonce,
    code_challenge: await client.calculatePKCECodeChallenge(flow.verifier),
    code_challenge_method: 'S256',
  });
  const secure = baseURL.startsWith('https:') ? '; Secure' : '';
  res.writeHead(302, {
    Location: url.href,
    // SameSite=Lax: it comes back on kycvs's top-level redirect.
    'Set-Cookie': `${FLOW_COOKIE}=${id}; Path=/; Max-Age=900; HttpOnly; SameSite=Lax${secure}`,
  });
  res.end();
}

// callback is the redirect URI.
async function callback(req, res) {
  // 1. The answer must belong to a flow this browser started.
  const id = cookie(req, FLOW_COOKIE);
  const flow = flows.get(id);
  flows.delete(id);
  if (!flow || flow.expires < Date.now()) {
    page(res, 400, 'Start again', '<p>This answer does not belong to a check started here. <a href="/login">Start again</a>.</p>');
    return;
  }
  let tokens;
  try {
    // 2. Check state, exchange the code (client secret and PKCE verifier),
    // and verify the ID token: signature, issuer, audience, expiry, nonce.
    tokens = await client.authorizationCodeGrant(config, new URL(req.url, baseURL), {
      expectedState: flow.state,
      expectedNonce: flow.nonce,
      pkceCodeVerifier: flow.verifier,
      idTokenExpected: true,
    });
  } catch (err) {
    // 3. The person may have declined, or have no record: kycvs gives one
    // answer for both, access_denied. Offer another way; do not retry.
    if (err instanceof client.AuthorizationResponseError && err.error === 'access_denied') {
      page(res, 200, 'Not shared', '<p>You did not share your vaccination status. You can show your certificate at the gate instead.</p>');
      return;
    }
    console.error('kycvs verification failed:', err.code || err.name, err.error || '', err.message);
    if (err instanceof client.AuthorizationResponseError) {
      page(res, 400, 'Start again', '<p>kycvs could not check your status. <a href="/login">Try again</a>.</p>');
    } else {
      page(res, 502, 'Try again', '<p>The answer from kycvs could not be verified. <a href="/login">Try again</a>.</p>');
    }
    return;
  }
  // 4. Read the claim: 0 not vaccinated, 1 partially, 2 fully.
  const status = tokens.claims().vaccination_status;
  if (!(status in statusText)) {
    page(res, 502, 'Try again', '<p>kycvs did not send a vaccination status this app knows.</p>');
    return;
  }
  page(res, 200, 'Verified', `<p id="status" data-status="${status}">Vaccination status: ${statusText[status]}, verified by kycvs.</p>`);
}

const server = http.createServer((req, res) => {
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
});

server.listen(port, '127.0.0.1', () => console.log(`example relying party on ${baseURL}`));

// Forget flows nobody came back to.
setInterval(() => {
  const now = Date.now();
  for (const [id, f] of flows) if (f.expires < now) flows.delete(id);
}, 60 * 1000).unref();
