// A real OpenID Connect provider (the npm package oidc-provider, OpenID-certified) for the
// server's SSO tests, on a loopback port of its own. Started by the test with one JSON argument:
//
//   { "clients": [{ "client_id", "client_secret", "redirect_uris": [...] }],
//     "id_token_ttl": 3600,
//     "misdirect_audience": { "from": "console", "to": "partner" } }   // optional
//
// and prints `listening http://127.0.0.1:<port>` once it answers. Its interactions are the
// package's own development pages: a login form (any login and password sign in as that login)
// and a consent form. Every user has `preferred_username` = the login and `email` =
// `<login>@idp.example`.
//
// `misdirect_audience` makes the provider issue the ID tokens of client `from` as if for client
// `to` (signed with its real key, with the real issuer, nonce and expiry): a provider that mixes
// up its clients, or a token minted for another application, which the console must refuse.

import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2] ?? '{}');

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key-1', alg: 'RS256', use: 'sig' };

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: config.clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      redirect_uris: c.redirect_uris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    jwks: { keys: [jwk] },
    cookies: { keys: ['sso-test-cookie-key'] },
    scopes: ['openid', 'profile', 'email'],
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'name'],
      email: ['email', 'email_verified'],
    },
    // The claims of the granted scopes go into the ID token itself (the console reads them there).
    conformIdTokenClaims: false,
    ttl: { IdToken: config.id_token_ttl ?? 3600 },
    async findAccount(ctx, id) {
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            preferred_username: id,
            name: id,
            email: `${id}@idp.example`,
            email_verified: true,
          };
        },
      };
    },
  });

  const misdirect = config.misdirect_audience;
  if (misdirect) {
    const issue = provider.IdToken.prototype.issue;
    provider.IdToken.prototype.issue = async function issueMisdirected(options) {
      if (this.client?.clientId === misdirect.from) {
        this.client = await provider.Client.find(misdirect.to);
      }
      return issue.call(this, options);
    };
  }

  server.on('request', provider.callback());
  console.log(`listening ${issuer}`);
});

// A test that stops reading the output must not end the provider with EPIPE.
process.stdout.on('error', () => {});

// The test ends the process by closing its standard input (or killing it).
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
