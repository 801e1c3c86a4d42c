package io.legate.http.filters.jwtauthn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.util.JsonFormat;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.envoyproxy.envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication;
import io.legate.config.ConfigException;
import io.legate.http.filter.HttpFilter;
import io.legate.stats.StatsStore;
import io.legate.testing.FakeFilterCallbacks;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class JwtAuthnFilterTest {
  static final long NOW = 1_700_000_000L;
  static RSAKey rsa;
  static RSAKey otherRsa;
  static ECKey ec;
  static String jwks;

  @BeforeAll
  static void keys() throws Exception {
    rsa = new RSAKeyGenerator(2048).keyID("rsa1").generate();
    otherRsa = new RSAKeyGenerator(2048).keyID("rsa1").generate();
    ec = new ECKeyGenerator(Curve.P_256).keyID("ec1").generate();
    jwks = new JWKSet(List.of(rsa.toPublicJWK(), ec.toPublicJWK())).toString();
  }

  static String token(JWSSigner signer, JWSAlgorithm alg, String kid, JWTClaimsSet claims) throws Exception {
    SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(alg).keyID(kid).build(), claims);
    jwt.sign(signer);
    return jwt.serialize();
  }

  static JWTClaimsSet.Builder claims(String iss) {
    return new JWTClaimsSet.Builder()
        .issuer(iss)
        .subject("alice")
        .audience("api.example.com")
        .expirationTime(new Date((NOW + 3600) * 1000))
        .claim("nested", Map.of("tier", "gold"))
        .claim("admin", true);
  }

  static String rs256(JWTClaimsSet c) throws Exception {
    return token(new RSASSASigner(rsa), JWSAlgorithm.RS256, "rsa1", c);
  }

  static String es256(JWTClaimsSet c) throws Exception {
    return token(new ECDSASigner(ec), JWSAlgorithm.ES256, "ec1", c);
  }

  static final String CONFIG =
      """
      {
        "providers": {
          "p1": {
            "issuer": "https://issuer1",
            "audiences": ["https://api.example.com/"],
            "local_jwks": { "inline_string": %s },
            "forward": %s,
            "forward_payload_header": "x-jwt-payload",
            "claim_to_headers": [ { "header_name": "x-sub", "claim_name": "sub" },
                                  { "header_name": "x-tier", "claim_name": "nested.tier" },
                                  { "header_name": "x-admin", "claim_name": "admin" } ]
          },
          "p2": {
            "issuer": "issuer2",
            "local_jwks": { "inline_string": %s },
            "from_headers": [ { "name": "x-token", "value_prefix": "Token " } ]
          }
        },
        "rules": [
          { "match": { "prefix": "/any" }, "requires": { "requires_any": { "requirements": [
              { "provider_name": "p1" }, { "provider_name": "p2" } ] } } },
          { "match": { "prefix": "/all" }, "requires": { "requires_all": { "requirements": [
              { "provider_name": "p1" }, { "provider_name": "p2" } ] } } },
          { "match": { "prefix": "/optional" }, "requires": { "allow_missing": {} } },
          { "match": { "prefix": "/lenient" }, "requires": { "allow_missing_or_failed": {} } },
          { "match": { "prefix": "/aud" }, "requires": { "provider_and_audiences": {
              "provider_name": "p1", "audiences": ["other"] } } },
          { "match": { "prefix": "/p2" }, "requires": { "provider_name": "p2" } },
          { "match": { "prefix": "/public" } },
          { "match": { "prefix": "/" }, "requires": { "provider_name": "p1" } }
        ]
      }
      """;

  final StatsStore stats = new StatsStore();
  final FakeFilterCallbacks cb = new FakeFilterCallbacks();

  JwtAuthnConfig config(boolean forward) throws Exception {
    return config(forward, b -> {});
  }

  JwtAuthnConfig config(boolean forward, java.util.function.Consumer<JwtAuthentication.Builder> change)
      throws Exception {
    String j = new com.google.gson.Gson().toJson(jwks);
    JwtAuthentication.Builder b = JwtAuthentication.newBuilder();
    JsonFormat.parser().merge(CONFIG.formatted(j, forward, j), b);
    change.accept(b);
    return JwtAuthnConfig.parse(b.build(), "f", "jwt", stats.scope("http.test."), null, () -> NOW, System::nanoTime);
  }

  Http2Headers request(String path, String... headers) {
    Http2Headers h = new DefaultHttp2Headers(false).method("GET").path(path).authority("example.com")
        .set("x-forwarded-proto", "https");
    for (int i = 0; i < headers.length; i += 2) {
      h.add(headers[i], headers[i + 1]);
    }
    return h;
  }

  HttpFilter.Status run(JwtAuthnConfig c, Http2Headers h) {
    JwtAuthnFilter f = new JwtAuthnFilter(c);
    f.setDecoderCallbacks(cb);
    return f.decodeHeaders(h, true);
  }

  @Test
  void validRs256TokenPassesAndForwardsPayloadAndClaims() throws Exception {
    JwtAuthnConfig c = config(true);
    String t = rs256(claims("https://issuer1").build());
    Http2Headers h = request("/x", "authorization", "Bearer " + t, "x-sub", "forged");
    assertThat(run(c, h)).isEqualTo(HttpFilter.Status.CONTINUE);
    assertThat(cb.localReply).isNull();
    assertThat(h.get("authorization").toString()).isEqualTo("Bearer " + t);
    assertThat(h.get("x-sub").toString()).isEqualTo("alice");
    assertThat(h.getAll("x-sub")).hasSize(1);
    assertThat(h.get("x-tier").toString()).isEqualTo("gold");
    assertThat(h.get("x-admin").toString()).isEqualTo("true");
    assertThat(h.get("x-jwt-payload").toString()).isEqualTo(t.split("\\.")[1]);
    assertThat(stats.counter("http.test.jwt_authn.allowed").value()).isEqualTo(1);
    assertThat(stats.counter("http.test.jwt_authn.denied").value()).isZero();
  }

  @Test
  void aClaimThatCannotBeAHeaderValueIsLeftOutAndTheClientsCopyRemoved() throws Exception {
    JwtAuthnConfig c = config(true);
    String t = rs256(claims("https://issuer1").subject("alice\r\nx-admin: true").build());
    Http2Headers h = request("/x", "authorization", "Bearer " + t, "x-sub", "forged");
    assertThat(run(c, h)).isEqualTo(HttpFilter.Status.CONTINUE);
    assertThat(h.contains("x-sub")).isFalse();
    assertThat(h.get("x-tier").toString()).isEqualTo("gold");
  }

  @Test
  void validEs256TokenPasses() throws Exception {
    String t = es256(claims("https://issuer1").build());
    assertThat(run(config(true), request("/x?access_token=" + t))).isEqualTo(HttpFilter.Status.CONTINUE);
    assertThat(cb.localReply).isNull();
  }

  @Test
  void forwardFalseStripsTheTokenHeader() throws Exception {
    Http2Headers h = request("/x", "authorization", "Bearer " + rs256(claims("https://issuer1").build()));
    assertThat(run(config(false), h)).isEqualTo(HttpFilter.Status.CONTINUE);
    assertThat(h.contains("authorization")).isFalse();
  }

  void assertDenied(int status, String body, String wwwAuthenticate, String details) {
    assertThat(cb.localReply).isNotNull();
    assertThat(cb.localReply.status()).isEqualTo(status);
    assertThat(cb.localReply.body()).isEqualTo(body);
    assertThat(cb.localReply.details()).isEqualTo(details);
    if (wwwAuthenticate == null) {
      assertThat(cb.localReply.extraHeaders().contains("www-authenticate")).isFalse();
    } else {
      assertThat(cb.localReply.extraHeaders().get("www-authenticate").toString()).isEqualTo(wwwAuthenticate);
    }
    assertThat(stats.counter("http.test.jwt_authn.denied").value()).isEqualTo(1);
  }

  @Test
  void missingTokenIs401WithoutError() throws Exception {
    assertThat(run(config(true), request("/x?a=b"))).isEqualTo(HttpFilter.Status.STOP_ITERATION);
    assertDenied(401, "Jwt is missing", "Bearer realm=\"https://example.com/x?a=b\"",
        "jwt_authn_access_denied{Jwt_is_missing}");
  }

  @Test
  void expiredTokenIs401() throws Exception {
    String t = rs256(claims("https://issuer1").expirationTime(new Date((NOW - 61) * 1000)).build());
    run(config(true), request("/x", "authorization", "Bearer " + t));
    assertDenied(401, "Jwt is expired", "Bearer realm=\"https://example.com/x\", error=\"invalid_token\"",
        "jwt_authn_access_denied{Jwt_is_expired}");
  }

  @Test
  void tokenWithinClockSkewPasses() throws Exception {
    String t = rs256(claims("https://issuer1").expirationTime(new Date((NOW - 59) * 1000)).build());
    assertThat(run(config(true), request("/x", "authorization", "Bearer " + t))).isEqualTo(HttpFilter.Status.CONTINUE);
  }

  @Test
  void wrongAudienceIs403() throws Exception {
    String t = rs256(claims("https://issuer1").audience("someone-else").build());
    run(config(true), request("/x", "authorization", "Bearer " + t));
    assertDenied(403, "Audiences in Jwt are not allowed",
        "Bearer realm=\"https://example.com/x\", error=\"invalid_token\"",
        "jwt_authn_access_denied{Audiences_in_Jwt_are_not_allowed}");
  }

  @Test
  void providerAndAudiencesOverridesTheProvidersAudiences() throws Exception {
    String t = rs256(claims("https://issuer1").audience("other").build());
    assertThat(run(config(true), request("/aud", "authorization", "Bearer " + t))).isEqualTo(HttpFilter.Status.CONTINUE);
  }

  @Test
  void wrongIssuerIs401() throws Exception {
    String t = rs256(claims("https://evil").build());
    run(config(true), request("/x", "authorization", "Bearer " + t));
    assertDenied(401, "Jwt issuer is not configured",
        "Bearer realm=\"https://example.com/x\", error=\"invalid_token\"",
        "jwt_authn_access_denied{Jwt_issuer_is_not_configured}");
  }

  @Test
  void badSignatureIs401() throws Exception {
    String t = token(new RSASSASigner(otherRsa), JWSAlgorithm.RS256, "rsa1", claims("https://issuer1").build());
    run(config(true), request("/x", "authorization", "Bearer " + t));
    assertDenied(401, "Jwt verification fails",
        "Bearer realm=\"https://example.com/x\", error=\"invalid_token\"",
        "jwt_authn_access_denied{Jwt_verification_fails}");
  }

  @Test
  void unknownKidIsAMismatch() throws Exception {
    String t = token(new RSASSASigner(rsa), JWSAlgorithm.RS256, "nope", claims("https://issuer1").build());
    run(config(true), request("/x", "authorization", "Bearer " + t));
    assertThat(cb.localReply.body()).isEqualTo("Jwks doesn't have key to match kid or alg from Jwt");
  }

  @Test
  void malformedTokenIsBadFormat() throws Exception {
    run(config(true), request("/x", "authorization", "Bearer abc.def"));
    assertThat(cb.localReply.status()).isEqualTo(401);
    assertThat(cb.localReply.body())
        .isEqualTo("Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections");
  }

  @Test
  void unsignedTokenIsAnUnsupportedAlgorithm() throws Exception {
    String header = Base64.getUrlEncoder().withoutPadding().encodeToString("{\"alg\":\"none\"}".getBytes());
    String noAlg = Base64.getUrlEncoder().withoutPadding().encodeToString("{\"typ\":\"JWT\"}".getBytes());
    String payload = rs256(claims("https://issuer1").build()).split("\\.")[1];
    JwtAuthnConfig c = config(true);
    run(c, request("/x", "authorization", "Bearer " + header + "." + payload + "."));
    assertThat(cb.localReply.body()).isEqualTo("Jwt header [alg] is not supported");
    cb.localReply = null;
    run(c, request("/x", "authorization", "Bearer " + noAlg + "." + payload + ".c2ln"));
    assertThat(cb.localReply.body()).isEqualTo("Jwt header [alg] field is required and must be a string");
  }

  @Test
  void fromHeadersWithValuePrefix() throws Exception {
    String t = es256(claims("issuer2").build());
    assertThat(run(config(true), request("/p2", "x-token", "Token " + t))).isEqualTo(HttpFilter.Status.CONTINUE);
    assertThat(cb.localReply).isNull();
  }

  @Test
  void fromHeadersWithoutThePrefixIsMissing() throws Exception {
    String t = es256(claims("issuer2").build());
    run(config(true), request("/p2", "x-token", t));
    assertThat(cb.localReply.body()).isEqualTo("Jwt is missing");
  }

  @Test
  void requiresAnyAcceptsEitherProvider() throws Exception {
    JwtAuthnConfig c = config(true);
    assertThat(run(c, request("/any", "x-token", "Token " + es256(claims("issuer2").build()))))
        .isEqualTo(HttpFilter.Status.CONTINUE);
    assertThat(run(c, request("/any", "authorization", "Bearer " + rs256(claims("https://issuer1").build()))))
        .isEqualTo(HttpFilter.Status.CONTINUE);
    assertThat(stats.counter("http.test.jwt_authn.allowed").value()).isEqualTo(2);
  }

  @Test
  void requiresAnyPrefersARealErrorOverMissing() throws Exception {
    String expired = rs256(claims("https://issuer1").expirationTime(new Date((NOW - 3600) * 1000)).build());
    run(config(true), request("/any", "authorization", "Bearer " + expired));
    assertThat(cb.localReply.body()).isEqualTo("Jwt is expired");
  }

  @Test
  void requiresAllNeedsBoth() throws Exception {
    run(config(true), request("/all", "authorization", "Bearer " + rs256(claims("https://issuer1").build())));
    assertThat(cb.localReply.body()).isEqualTo("Jwt is missing");
  }

  @Test
  void allowMissingPassesWithoutATokenButNotWithABadOne() throws Exception {
    JwtAuthnConfig c = config(true);
    assertThat(run(c, request("/optional"))).isEqualTo(HttpFilter.Status.CONTINUE);
    String t = token(new RSASSASigner(otherRsa), JWSAlgorithm.RS256, "rsa1", claims("https://issuer1").build());
    run(c, request("/optional", "authorization", "Bearer " + t));
    assertThat(cb.localReply.body()).isEqualTo("Jwt verification fails");
  }

  @Test
  void allowMissingOrFailedPassesABadToken() throws Exception {
    String t = token(new RSASSASigner(otherRsa), JWSAlgorithm.RS256, "rsa1", claims("https://issuer1").build());
    assertThat(run(config(true), request("/lenient", "authorization", "Bearer " + t))).isEqualTo(HttpFilter.Status.CONTINUE);
    assertThat(cb.localReply).isNull();
  }

  @Test
  void ruleWithoutRequirementAllowsAll() throws Exception {
    assertThat(run(config(true), request("/public"))).isEqualTo(HttpFilter.Status.CONTINUE);
  }

  @Test
  void payloadHeaderFromTheClientIsRemoved() throws Exception {
    JwtAuthnConfig c = config(true);
    Http2Headers h2 = request("/optional", "x-jwt-payload", "forged");
    assertThat(run(c, h2)).isEqualTo(HttpFilter.Status.CONTINUE);
    assertThat(h2.contains("x-jwt-payload")).isFalse();
  }

  @Test
  void corsPreflightIsBypassedWhenConfigured() throws Exception {
    JwtAuthnConfig c = config(true, b -> b.setBypassCorsPreflight(true));
    Http2Headers h = request("/x", "origin", "https://app", "access-control-request-method", "GET");
    h.method("OPTIONS");
    assertThat(run(c, h)).isEqualTo(HttpFilter.Status.CONTINUE);
    assertThat(stats.counter("http.test.jwt_authn.cors_preflight_bypassed").value()).isEqualTo(1);
    Http2Headers plain = request("/x");
    plain.method("OPTIONS");
    run(c, plain);
    assertThat(cb.localReply.body()).isEqualTo("Jwt is missing");
  }

  @Test
  void stripFailureResponseSendsNoBodyNorChallenge() throws Exception {
    run(config(true, b -> b.setStripFailureResponse(true)), request("/x"));
    assertThat(cb.localReply.status()).isEqualTo(401);
    assertThat(cb.localReply.body()).isEmpty();
    assertThat(cb.localReply.extraHeaders()).isNull();
    assertThat(cb.localReply.details()).isEqualTo("jwt_authn_access_denied{Jwt_is_missing}");
  }

  @Test
  void remoteJwksNeedsATimeout() throws Exception {
    JwtAuthentication.Builder b = JwtAuthentication.newBuilder();
    JsonFormat.parser().merge(
        "{\"providers\":{\"r\":{\"remote_jwks\":{\"http_uri\":{\"uri\":\"http://k/j\",\"cluster\":\"c\"}}}}}", b);
    assertThatThrownBy(() -> JwtAuthnConfig.parse(b.build(), "f", "jwt", stats.scope("http.test."), null, () -> NOW, System::nanoTime))
        .isInstanceOf(ConfigException.class)
        .hasMessage("f.providers[\"r\"].remote_jwks.http_uri.timeout: is required");
  }

  @Test
  void unknownProviderIsAConfigError() {
    JwtAuthentication c = JwtAuthentication.newBuilder()
        .addRules(io.envoyproxy.envoy.extensions.filters.http.jwt_authn.v3.RequirementRule.newBuilder()
            .setMatch(io.envoyproxy.envoy.config.route.v3.RouteMatch.newBuilder().setPrefix("/"))
            .setRequires(io.envoyproxy.envoy.extensions.filters.http.jwt_authn.v3.JwtRequirement.newBuilder()
                .setProviderName("nope")))
        .build();
    assertThatThrownBy(() -> JwtAuthnConfig.parse(c, "f", "jwt", stats.scope("http.test."), null, () -> NOW, System::nanoTime))
        .isInstanceOf(ConfigException.class)
        .hasMessage("f.rules[0].requires.provider_name: Required provider ['nope'] is not configured.");
  }

  @Test
  void invalidLocalJwksIsAConfigError() throws Exception {
    JwtAuthentication.Builder b = JwtAuthentication.newBuilder();
    JsonFormat.parser().merge("{\"providers\":{\"p\":{\"local_jwks\":{\"inline_string\":\"{\\\"keys\\\":[]}\"}}}}", b);
    assertThatThrownBy(() -> JwtAuthnConfig.parse(b.build(), "f", "jwt", stats.scope("http.test."), null, () -> NOW, System::nanoTime))
        .isInstanceOf(ConfigException.class)
        .hasMessage("f.providers[\"p\"].local_jwks: invalid JWKS: Jwks doesn't have any valid public key");
  }

  @Test
  void payloadInMetadataPutsTheVerifiedPayloadInDynamicMetadata() throws Exception {
    JwtAuthnConfig c = config(true, b -> b.putProviders("p1",
        b.getProvidersOrThrow("p1").toBuilder().setPayloadInMetadata("my_payload").build()));
    String t = rs256(claims("https://issuer1").build());
    assertThat(run(c, request("/x", "authorization", "Bearer " + t))).isEqualTo(HttpFilter.Status.CONTINUE);
    assertThat(io.legate.formatter.Formatter.parse(
        "%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:my_payload:sub)% "
            + "%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:my_payload:nested)% "
            + "%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:my_payload:exp)%", "f").format(cb.info))
        .isEqualTo("alice {\"tier\":\"gold\"} " + (NOW + 3600));
  }

  @Test
  void payloadInMetadataIsNotSetOnFailure() throws Exception {
    JwtAuthnConfig c = config(true, b -> b.putProviders("p1",
        b.getProvidersOrThrow("p1").toBuilder().setPayloadInMetadata("my_payload").build()));
    String t = rs256(claims("https://wrong").build());
    run(c, request("/x", "authorization", "Bearer " + t));
    assertThat(cb.localReply).isNotNull();
    assertThat(cb.info.dynamicMetadata()).isEmpty();
  }
}
