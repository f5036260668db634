// A real OpenID Provider for Proctor's identity tests: panva's oidc-provider (OpenID Certified).
// Loopback only. Started by tests/oidc/provider.py with one argument: a JSON settings file
//   { port, jwks: {keys: [private JWKs]}, clients: [...], resource, accounts: {id: {...}} }
// Dev interactions accept any login and password; consent is implied for these first-party
// clients. POST /test/disable/<account> makes an account unknown (a user disabled at the IdP).
import { readFileSync } from 'node:fs';
import Provider, { errors } from 'oidc-provider';

const settings = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${settings.port}`;
const disabled = new Set();

const configuration = {
  clients: settings.clients,
  jwks: settings.jwks,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  conformIdTokenClaims: false, // scope claims in the ID token, as Okta and Keycloak do
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, client, oneOf) => {
        if (oneOf) return oneOf;
        return client.grantTypeAllowed('client_credentials') ? settings.resource : undefined;
      },
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resourceIndicator) => {
        if (resourceIndicator !== settings.resource) throw new errors.InvalidTarget();
        return {
          scope: 'db',
          audience: settings.resource,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 600,
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  async findAccount(ctx, id) {
    if (disabled.has(id)) return undefined;
    const known = settings.accounts[id] || {};
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: known.email || `${id}@example.test`,
          email_verified: true,
          name: known.name || id,
          groups: known.groups || [],
        };
      },
    };
  },
  async loadExistingGrant(ctx) {
    const client = ctx.oidc.client;
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile groups offline_access');
    grant.addOIDCClaims(['email', 'email_verified', 'name', 'groups']);
    await grant.save();
    return grant;
  },
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    ClientCredentials: 600,
    DeviceCode: 600,
    Grant: 3600,
    IdToken: 600,
    Interaction: 600,
    RefreshToken: 3600,
    Session: 3600,
  },
};

const provider = new Provider(issuer, configuration);
provider.use(async (ctx, next) => {
  const match = ctx.method === 'POST' && ctx.path.match(/^\/test\/disable\/([^/]+)$/);
  if (match) {
    disabled.add(decodeURIComponent(match[1]));
    ctx.status = 204;
    return;
  }
  await next();
});
provider.listen(settings.port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
