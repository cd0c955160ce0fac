// Registers this example with kycvs by dynamic client registration (RFC
// 7591) through openid-client, with the initial access token the kycvs
// operator gave you, and prints what kycvs registered as JSON: client_id,
// client_secret, registration_access_token, registration_client_uri and
// the metadata. Keep the secret and the registration access token: they
// are shown only this once.
//
//   KYCVS_ISSUER=https://kycvs.example INITIAL_ACCESS_TOKEN=kycvsiat_... \
//   BASE_URL=https://your-site.example node register.js
import * as client from 'openid-client';

function required(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`set ${name}`);
    process.exit(2);
  }
  return v;
}

const issuer = new URL(required('KYCVS_ISSUER'));
const baseURL = required('BASE_URL').replace(/\/+$/, '');
const options = { initialAccessToken: required('INITIAL_ACCESS_TOKEN'), execute: [] };
if (issuer.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(issuer.hostname)) {
  options.execute.push(client.allowInsecureRequests); // development only: kycvs on http://localhost
}

// app.js sends its secret in the form body, so that is the method it
// registers.
const config = await client.dynamicClientRegistration(issuer, {
  client_name: process.env.CLIENT_NAME || 'Example Venue',
  redirect_uris: [`${baseURL}/callback`],
  scope: 'openid vaccination_status',
  token_endpoint_auth_method: 'client_secret_post',
}, undefined, options);
console.log(JSON.stringify(config.clientMetadata()));
