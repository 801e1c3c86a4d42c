package io.legate.http.filters.jwtauthn;

import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.legate.http.codec.HeaderUtil;
import io.netty.handler.codec.http2.Http2Headers;
import java.text.ParseException;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Verifies one request's JWTs against a requirement, synchronously: the remote keys it may need
 * were fetched before. On success of a provider, the token is removed unless {@code forward}, and
 * the payload and claims are copied to headers as configured. Used once, on the stream's worker.
 */
final class Verification {
  private final Http2Headers headers;
  private final long nowSeconds;
  private boolean clearRouteCache;
  /** Verified payloads by payload_in_metadata key, or null when none. */
  private com.google.protobuf.Struct.Builder metadata;

  Verification(Http2Headers headers, long nowSeconds) {
    this.headers = headers;
    this.nowSeconds = nowSeconds;
  }

  /** Returns the outcome of a requirement (Envoy's verifier tree, children in order). */
  JwtStatus verify(Requirement r) {
    if (r instanceof Requirement.ByProvider p) {
      return authenticate(p.extractor(), List.of(p.provider()), p.provider(), p.audiences(), false, false);
    }
    if (r instanceof Requirement.AnyProvider a) {
      return authenticate(a.extractor(), a.providers(), null, null, a.allowFailed(), !a.allowFailed());
    }
    if (r instanceof Requirement.All all) {
      for (Requirement c : all.children()) {
        JwtStatus s = verify(c);
        if (s != JwtStatus.OK) {
          return s;
        }
      }
      return JwtStatus.OK;
    }
    if (r instanceof Requirement.Any any) {
      JwtStatus last = JwtStatus.JWT_MISSED;
      for (Requirement c : any.children()) {
        JwtStatus s = verify(c);
        if (s == JwtStatus.OK) {
          return s;
        }
        // Other errors win over "unknown issuer", which wins over "missing".
        if ((s != JwtStatus.JWT_MISSED && s != JwtStatus.JWT_UNKNOWN_ISSUER) || last == JwtStatus.JWT_MISSED) {
          last = s;
        }
      }
      if (any.allowMissingOrFailed() || (any.allowMissing() && last == JwtStatus.JWT_MISSED)) {
        return JwtStatus.OK;
      }
      return last;
    }
    return JwtStatus.OK;
  }

  private JwtStatus authenticate(
      Extractor extractor,
      List<Provider> providers,
      Provider provider,
      Set<String> audiences,
      boolean allowFailed,
      boolean allowMissing) {
    List<Extractor.Token> tokens = extractor.extract(headers);
    JwtStatus status = JwtStatus.JWT_MISSED;
    for (int i = tokens.size() - 1; i >= 0; i--) {
      status = verifyToken(tokens.get(i), providers, provider, audiences);
      if (status == JwtStatus.OK && !allowFailed) {
        return status;
      }
    }
    if (allowFailed || (allowMissing && status == JwtStatus.JWT_MISSED)) {
      return JwtStatus.OK;
    }
    return status;
  }

  private JwtStatus verifyToken(
      Extractor.Token token, List<Provider> providers, Provider provider, Set<String> audiences) {
    String value = token.value();
    int dot1 = value.indexOf('.');
    int dot2 = dot1 < 0 ? -1 : value.indexOf('.', dot1 + 1);
    if (dot1 < 0 || dot2 < 0 || value.indexOf('.', dot2 + 1) >= 0) {
      return JwtStatus.JWT_BAD_FORMAT;
    }
    Base64URL h = new Base64URL(value.substring(0, dot1));
    Base64URL p = new Base64URL(value.substring(dot1 + 1, dot2));
    Base64URL s = new Base64URL(value.substring(dot2 + 1));
    try {
      JWSHeader.parse(h);
    } catch (ParseException e) {
      return headerError(h);
    }
    JWTClaimsSet claims;
    try {
      claims = JWTClaimsSet.parse(p.decodeToString());
    } catch (ParseException | RuntimeException e) {
      return JwtStatus.JWT_PAYLOAD_BAD_JSON;
    }
    SignedJWT jwt;
    try {
      jwt = new SignedJWT(h, p, s);
    } catch (ParseException e) {
      return JwtStatus.JWT_BAD_FORMAT;
    }
    String iss = claims.getIssuer() == null ? "" : claims.getIssuer();
    if (!token.isIssuerAllowed(iss)) {
      return JwtStatus.JWT_UNKNOWN_ISSUER;
    }
    Provider prov = provider != null ? provider : byIssuer(providers, iss, token);
    if (prov == null) {
      return JwtStatus.JWT_UNKNOWN_ISSUER;
    }
    long skew = prov.clockSkewSeconds();
    Date nbf = claims.getNotBeforeTime();
    if (nbf != null && nowSeconds + skew < nbf.getTime() / 1000) {
      return JwtStatus.JWT_NOT_YET_VALID;
    }
    Date exp = claims.getExpirationTime();
    if (exp != null ? nowSeconds > exp.getTime() / 1000 + skew : prov.requireExpiration()) {
      return JwtStatus.JWT_EXPIRED;
    }
    if (!Provider.audiencesAllowed(audiences != null ? audiences : prov.audiences(), claims.getAudience())) {
      return JwtStatus.JWT_AUDIENCE_NOT_ALLOWED;
    }
    JwksKeys keys = prov.jwks().current();
    if (keys == null) {
      return JwtStatus.JWKS_FETCH_FAIL;
    }
    JwtStatus st = keys.verify(jwt);
    if (st != JwtStatus.OK) {
      return st;
    }
    onSuccess(prov, token, p.toString(), claims);
    if (prov.payloadInMetadata() != null) {
      com.google.protobuf.Struct.Builder payload = com.google.protobuf.Struct.newBuilder();
      try {
        com.google.protobuf.util.JsonFormat.parser().merge(p.decodeToString(), payload);
        if (metadata == null) {
          metadata = com.google.protobuf.Struct.newBuilder();
        }
        metadata.putFields(prov.payloadInMetadata(),
            com.google.protobuf.Value.newBuilder().setStructValue(payload).build());
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        // The claims parsed as JSON above; a payload protobuf's JSON cannot hold is left out.
      }
    }
    return JwtStatus.OK;
  }

  /** Tells why a header is not a usable JWS header, in Envoy's terms. */
  private static JwtStatus headerError(Base64URL h) {
    Map<String, Object> json;
    try {
      json = JSONObjectUtils.parse(h.decodeToString());
    } catch (ParseException | RuntimeException e) {
      return JwtStatus.JWT_HEADER_BAD_JSON;
    }
    Object alg = json.get("alg");
    if (!(alg instanceof String)) {
      return JwtStatus.JWT_HEADER_BAD_ALG;
    }
    return JwtStatus.JWT_HEADER_NOT_IMPLEMENTED_ALG;
  }

  private static Provider byIssuer(List<Provider> providers, String iss, Extractor.Token token) {
    Provider any = null;
    for (Provider p : providers) {
      if (p.issuer().equals(iss) && p.locations().contains(token.location())) {
        return p;
      }
      if (any == null && p.issuer().isEmpty() && p.locations().contains(token.location())) {
        any = p;
      }
    }
    return any;
  }

  /** Returns the verified payloads to put in the dynamic metadata (payload_in_metadata), or null. */
  com.google.protobuf.Struct metadata() {
    return metadata == null ? null : metadata.build();
  }

  /** Returns whether a provider with {@code clear_route_cache} changed the request's headers. */
  boolean clearRouteCache() {
    return clearRouteCache;
  }

  private void onSuccess(Provider prov, Extractor.Token token, String payload, JWTClaimsSet claims) {
    clearRouteCache |= prov.clearRouteCache()
        && (!prov.forward() || prov.forwardPayloadHeader() != null || !prov.claimToHeaders().isEmpty());
    if (!prov.forward()) {
      token.remove(headers);
    }
    if (prov.forwardPayloadHeader() != null) {
      String v = payload;
      if (prov.padForwardPayloadHeader()) {
        int rem = v.length() % 4;
        v = rem == 2 ? v + "==" : rem == 3 ? v + "=" : v;
      }
      headers.set(prov.forwardPayloadHeader(), v);
    }
    for (Provider.ClaimToHeader c : prov.claimToHeaders()) {
      String v = claimValue(claims.getClaims(), c.claimPath());
      // A claim is the issuer's text (a user's display name, say): one with CR, LF or another
      // control character cannot be a header value. It is left out, and so is whatever the client
      // sent under that name: the header must not claim what the token did not say.
      if (v != null && HeaderUtil.isValidHeaderValue(v)) {
        headers.set(c.header(), v);
      } else if (v != null) {
        headers.remove(c.header());
      }
    }
  }

  /** Returns a claim as header text: strings as they are, numbers, booleans, lists of strings joined with ','. */
  static String claimValue(Map<String, Object> claims, List<String> path) {
    Object v = claims;
    for (String part : path) {
      if (!(v instanceof Map<?, ?> m)) {
        return null;
      }
      v = m.get(part);
    }
    if (v instanceof String str) {
      return str;
    }
    if (v instanceof Boolean b) {
      return b.toString();
    }
    if (v instanceof Number n) {
      double d = n.doubleValue();
      return d == Math.rint(d) && Math.abs(d) < 1e18 ? Long.toString(n.longValue()) : n.toString();
    }
    if (v instanceof Date d) {
      return Long.toString(d.getTime() / 1000);
    }
    if (v instanceof List<?> list) {
      StringBuilder sb = new StringBuilder();
      for (Object o : list) {
        if (!(o instanceof String)) {
          return null;
        }
        if (sb.length() > 0) {
          sb.append(',');
        }
        sb.append(o);
      }
      return sb.toString();
    }
    return null;
  }
}
