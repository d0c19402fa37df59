// A certified OpenID Provider (npm `oidc-provider`, by panva) for Rollgate's single-sign-on
// tests, so they do not run only against the sandbox provider Rollgate's authors wrote.
// Started by server/tests/sso_oidc_provider.rs with `node`; for tests only, on loopback.
//
// It prints one line of JSON when it listens: {"issuer":"http://127.0.0.1:<port>"}. The client
// secret comes from the OP_CLIENT_SECRET environment variable (never printed). Rollgate's
// redirect URI is only known once Rollgate listens, after the issuer must already be in its
// configuration, so the client is registered by `POST /-/client` and the provider is built
// then (and again at each key rotation; its in-memory state goes with it, which no test needs).
//
// The provider is configured as a web application would register Rollgate: one confidential
// client, the authorization code flow only, PKCE required, the ID token carrying the profile,
// email and groups claims its scopes grant. Nothing about the protocol is changed. What the
// tests need that a provider does not offer by itself lives under /-/ (below) and is said so.
//
// Signing in: the authorize endpoint sends the browser to /interaction/<uid>, as oidc-provider
// does for any login page; here the page is an endpoint that logs in the account named by its
// `account` query parameter (a test browser picks it, as a person would on a form) and grants
// consent for the scopes asked, without HTML.
//
// Test-only switches, each for a case a sound provider cannot produce on request:
// - POST /-/client {"redirect_uri"}: registers Rollgate's client (see above).
// - POST /-/rotate: a new signing key under a new kid, the old one no longer published; what
//   a key rotation at a real provider looks like to a client that cached the old key set.
// - POST /-/clock {"offset_secs"}: moves this process's clock (Date.now, which oidc-provider
//   reads for iat, exp and every lifetime), as a provider on a badly kept clock would be.
// - POST /-/audience {"aud"}: the next ID token is re-signed with the provider's own key but
//   for another audience. oidc-provider always addresses a token to the client that redeemed
//   the code; a token for another client reaching Rollgate is the attack the audience check
//   stops, and it can only be staged this way.
// - GET /-/stats: how often the discovery document and the key set were fetched, so a test
//   can tell the key set was cached, and fetched again after a rotation.

import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import Provider from 'oidc-provider';

const ACCOUNTS = {
  olivia: {
    sub: 'op-olivia',
    name: 'Olivia Okafor',
    preferred_username: 'olivia',
    email: 'olivia@op.example',
    email_verified: true,
    groups: ['release-managers'],
  },
  devon: {
    sub: 'op-devon',
    name: 'Devon Diaz',
    preferred_username: 'devon',
    email: 'devon@op.example',
    email_verified: true,
    groups: ['developers'],
  },
  // The name "root" is an admin's in the tests' configuration, bound to root@op.example.
  root: {
    sub: 'op-root',
    name: 'Root Admin',
    preferred_username: 'root',
    email: 'root@op.example',
    email_verified: true,
    groups: [],
  },
  // Someone who chose root's name and typed root's address, which the provider never verified.
  mallory: {
    sub: 'op-mallory',
    name: 'Mallory',
    preferred_username: 'root',
    email: 'root@op.example',
    email_verified: false,
    groups: ['platform'],
  },
};

const ID_TOKEN_SECS = 300;

const secret = process.env.OP_CLIENT_SECRET;
if (!secret) {
  console.error('OP_CLIENT_SECRET is not set');
  process.exit(2);
}

const realNow = Date.now.bind(Date);
let offsetMs = 0;
Date.now = () => realNow() + offsetMs;

const stats = { discovery: 0, jwks: 0 };
let key = newKey();
let redirectUri;
let nextAudience;
let provider;
let handle;

function newKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `key-${randomBytes(6).toString('hex')}`;
  return { privateKey, kid, jwk: { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' } };
}

function build(issuer) {
  provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'rollgate',
        client_secret: secret,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    pkce: { required: () => true },
    jwks: { keys: [key.jwk] },
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    // The claims the granted scopes give go in the ID token itself (Rollgate reads the groups
    // there), not only from the userinfo endpoint.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    // An hour for what a sign-in leaves behind (a browser on a clock that far from the
    // provider's would drop its cookies); five minutes for an ID token.
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      Grant: 3600,
      IdToken: ID_TOKEN_SECS,
      Interaction: 3600,
      Session: 3600,
    },
    async findAccount(ctx, sub) {
      const account = Object.values(ACCOUNTS).find((a) => a.sub === sub);
      return account && { accountId: sub, claims: async () => ({ ...account }) };
    },
  });
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/token' && ctx.status === 200 && nextAudience && ctx.body?.id_token) {
      ctx.body = { ...ctx.body, id_token: resign(ctx.body.id_token, { aud: nextAudience }) };
      nextAudience = undefined;
    }
  });
  handle = provider.callback();
}

function resign(jwt, changes) {
  const [header, payload] = jwt.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url')));
  const input = [header, { ...payload, ...changes }]
    .map((part) => Buffer.from(JSON.stringify(part)).toString('base64url'))
    .join('.');
  return `${input}.${sign('sha256', Buffer.from(input), key.privateKey).toString('base64url')}`;
}

async function interaction(req, res, url) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    const account = ACCOUNTS[url.searchParams.get('account')];
    if (!account) {
      return reply(res, 400, { error: `pick an account: ?account=${Object.keys(ACCOUNTS).join('|')}` });
    }
    return provider.interactionFinished(req, res, { login: { accountId: account.sub } }, {
      mergeWithLastSubmission: false,
    });
  }
  // Consent, granted for whatever this first-party client asked.
  const grant = new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

async function control(req, res, url) {
  const body = req.method === 'POST' ? await json(req) : {};
  switch (`${req.method} ${url.pathname}`) {
    case 'POST /-/client':
      redirectUri = String(body.redirect_uri);
      build(issuer);
      return reply(res, 200, { redirect_uri: redirectUri });
    case 'POST /-/rotate':
      key = newKey();
      build(issuer);
      return reply(res, 200, { kid: key.kid });
    case 'POST /-/clock':
      offsetMs = Number(body.offset_secs) * 1000;
      return reply(res, 200, { offset_secs: offsetMs / 1000 });
    case 'POST /-/audience':
      nextAudience = String(body.aud);
      return reply(res, 200, { aud: nextAudience });
    case 'GET /-/stats':
      return reply(res, 200, stats);
    default:
      return reply(res, 404, { error: 'no such switch' });
  }
}

function json(req) {
  return new Promise((resolve, reject) => {
    let text = '';
    req.on('data', (chunk) => { text += chunk; });
    req.on('end', () => {
      try {
        resolve(text ? JSON.parse(text) : {});
      } catch (e) {
        reject(e);
      }
    });
    req.on('error', reject);
  });
}

function reply(res, status, body) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(body));
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  try {
    if (url.pathname.startsWith('/-/')) return await control(req, res, url);
    if (!handle) return reply(res, 503, { error: 'no client registered yet: POST /-/client' });
    if (url.pathname.startsWith('/interaction/')) return await interaction(req, res, url);
    if (url.pathname === '/.well-known/openid-configuration') stats.discovery += 1;
    if (url.pathname === '/jwks') stats.jwks += 1;
    return handle(req, res);
  } catch (e) {
    return reply(res, 500, { error: String(e?.message ?? e) });
  }
});

let issuer;
server.listen(0, '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  console.log(JSON.stringify({ issuer }));
  // The test reads that one line and closes its end: anything else goes to stderr (its log).
  process.stdout.on('error', () => {});
  console.log = console.info = console.error;
});

// The test that started this process may die without stopping it: stdin closes with it.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
