package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpServer;
import io.legate.testing.Legate;
import io.legate.testing.RefusedPort;
import io.legate.testing.TestUpstream;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** envoy.filters.http.jwt_authn in a whole server: remote JWKS through a cluster, cached; per-route configs. */
class JwtAuthnIntegrationTest {
  static final String JWT = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication";
  static final String PER_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig";
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      static_resources:
        listeners:
        - name: front
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress
                route_config:
                  virtual_hosts:
                  - name: main
                    domains: ["*"]
                    routes:
                    - match: { prefix: /open }
                      route: { cluster: up1 }
                      typed_per_filter_config:
                        jwt: { "@type": %2$s, disabled: true }
                    - match: { prefix: /relaxed }
                      route: { cluster: up1 }
                      typed_per_filter_config:
                        jwt: { "@type": %2$s, requirement_name: relaxed }
                    - match: { prefix: /broken }
                      route: { cluster: up1 }
                      typed_per_filter_config:
                        jwt: { "@type": %2$s, requirement_name: broken }
                    - match: { prefix: /wrongname }
                      route: { cluster: up1 }
                      typed_per_filter_config:
                        jwt: { "@type": %2$s, requirement_name: nope }
                    - match: { prefix: / }
                      route: { cluster: up1 }
                http_filters:
                - name: jwt
                  typed_config:
                    "@type": %1$s
                    providers:
                      remote:
                        issuer: https://issuer
                        audiences: [api]
                        remote_jwks:
                          http_uri: { uri: "http://keys.example.com/jwks.json", cluster: jwks, timeout: 2s }
                          cache_duration: 300s
                        claim_to_headers: [ { header_name: x-sub, claim_name: sub } ]
                      broken:
                        issuer: https://issuer
                        remote_jwks:
                          http_uri: { uri: "http://keys.example.com/jwks.json", cluster: dead, timeout: 1s }
                    rules:
                    - match: { prefix: / }
                      requires: { provider_name: remote }
                    requirement_map:
                      relaxed: { allow_missing: {} }
                      broken: { provider_name: broken }
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
        - name: eager
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: eager
                route_config:
                  virtual_hosts:
                  - name: main
                    domains: ["*"]
                    routes:
                    - match: { prefix: / }
                      route: { cluster: up1 }
                http_filters:
                - name: jwt
                  typed_config:
                    "@type": %1$s
                    providers:
                      eager:
                        issuer: https://issuer
                        forward: false
                        remote_jwks:
                          http_uri: { uri: "http://keys.example.com/async.json", cluster: jwks, timeout: 2s }
                          async_fetch: {}
                    rules:
                    - match: { prefix: / }
                      requires: { provider_name: eager }
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
        clusters:
        - name: up1
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: up1
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP1} } } }
        - name: jwks
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: jwks
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${JWKS} } } }
        - name: dead
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: dead
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${DEAD} } } }
      """.formatted(JWT, PER_ROUTE);

  static TestUpstream up1;
  static HttpServer jwksServer;
  static RefusedPort dead;
  static final AtomicInteger jwksFetches = new AtomicInteger();
  static final AtomicInteger asyncFetches = new AtomicInteger();
  static final List<String> jwksHosts = new java.util.concurrent.CopyOnWriteArrayList<>();
  static RSAKey key;
  static Legate legate;

  @BeforeAll
  static void start() throws Exception {
    key = new RSAKeyGenerator(2048).keyID("k1").generate();
    byte[] doc = new JWKSet(key.toPublicJWK()).toString().getBytes(StandardCharsets.UTF_8);
    jwksServer = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    jwksServer.createContext("/jwks.json", ex -> {
      jwksFetches.incrementAndGet();
      jwksHosts.add(ex.getRequestHeaders().getFirst("Host"));
      ex.sendResponseHeaders(200, doc.length);
      ex.getResponseBody().write(doc);
      ex.close();
    });
    jwksServer.createContext("/async.json", ex -> {
      asyncFetches.incrementAndGet();
      ex.sendResponseHeaders(200, doc.length);
      ex.getResponseBody().write(doc);
      ex.close();
    });
    jwksServer.start();
    dead = new RefusedPort();
    up1 = new TestUpstream("up1");
    legate = Legate.start(
        CONFIG, Map.of("UP1", up1.port(), "JWKS", jwksServer.getAddress().getPort(), "DEAD", dead.port()));
  }

  @AfterAll
  static void stop() {
    if (legate != null) {
      legate.close();
    }
    if (up1 != null) {
      up1.close();
    }
    if (jwksServer != null) {
      jwksServer.stop(0);
    }
    if (dead != null) {
      dead.close();
    }
  }

  static String token(String aud, long expSeconds) throws Exception {
    JWTClaimsSet claims = new JWTClaimsSet.Builder().issuer("https://issuer").subject("alice").audience(aud)
        .expirationTime(new Date(expSeconds * 1000)).build();
    SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID("k1").build(), claims);
    jwt.sign(new RSASSASigner(key));
    return jwt.serialize();
  }

  static long inOneHour() {
    return System.currentTimeMillis() / 1000 + 3600;
  }

  @Test
  void missingTokenIsRejectedAsEnvoyDoes() {
    HttpResponse<String> r = legate.get("front", "/x?y=1");
    assertThat(r.statusCode()).isEqualTo(401);
    assertThat(r.body()).isEqualTo("Jwt is missing");
    assertThat(r.headers().firstValue("www-authenticate"))
        .hasValue("Bearer realm=\"http://127.0.0.1:" + legate.port("front") + "/x?y=1\"");
    assertThat(r.headers().firstValue("x-upstream")).isEmpty();
  }

  @Test
  void remoteJwksIsFetchedOnceAndCached() throws Exception {
    String t = token("api", inOneHour());
    List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      all.add(legate.client().sendAsync(
          java.net.http.HttpRequest.newBuilder(legate.uri("front", "/hello"))
              .header("authorization", "Bearer " + t).build(),
          HttpResponse.BodyHandlers.ofString()));
    }
    for (CompletableFuture<HttpResponse<String>> f : all) {
      HttpResponse<String> r = f.get(20, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).contains("x-sub: alice").doesNotContain("authorization:");
    }
    HttpResponse<String> again = legate.get("front", "/hello", "authorization", "Bearer " + t);
    assertThat(again.statusCode()).isEqualTo(200);
    assertThat(jwksFetches.get()).isEqualTo(1);
    assertThat(jwksHosts).containsExactly("keys.example.com");
    assertThat(legate.stat("http.ingress.jwt_authn.jwks_fetch_success")).isEqualTo(1);
    assertThat(legate.stat("http.ingress.jwt_authn.allowed")).isGreaterThanOrEqualTo(7);
  }

  @Test
  void wrongAudienceAndExpiryThroughTheServer() throws Exception {
    HttpResponse<String> aud = legate.get("front", "/x", "authorization", "Bearer " + token("other", inOneHour()));
    assertThat(aud.statusCode()).isEqualTo(403);
    assertThat(aud.body()).isEqualTo("Audiences in Jwt are not allowed");
    HttpResponse<String> exp = legate.get("front", "/x", "authorization",
        "Bearer " + token("api", System.currentTimeMillis() / 1000 - 3600));
    assertThat(exp.statusCode()).isEqualTo(401);
    assertThat(exp.body()).isEqualTo("Jwt is expired");
    assertThat(exp.headers().firstValue("www-authenticate"))
        .hasValue("Bearer realm=\"http://127.0.0.1:" + legate.port("front") + "/x\", error=\"invalid_token\"");
  }

  @Test
  void perRouteDisabledSkipsVerification() {
    HttpResponse<String> r = legate.get("front", "/open");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("x-upstream")).hasValue("up1");
  }

  @Test
  void perRouteRequirementName() throws Exception {
    assertThat(legate.get("front", "/relaxed").statusCode()).isEqualTo(200);
    HttpResponse<String> bad = legate.get("front", "/relaxed", "authorization", "Bearer a.b.c");
    assertThat(bad.statusCode()).isEqualTo(401);
    assertThat(bad.body()).isEqualTo("Jwt header is an invalid JSON");
    HttpResponse<String> wrong = legate.get("front", "/wrongname");
    assertThat(wrong.statusCode()).isEqualTo(403);
    assertThat(wrong.body()).isEqualTo("Failed JWT authentication: Wrong requirement_name: nope");
  }

  @Test
  void failedFetchIsReported() throws Exception {
    HttpResponse<String> r = legate.get("front", "/broken", "authorization", "Bearer " + token("api", inOneHour()));
    assertThat(r.statusCode()).isEqualTo(401);
    assertThat(r.body()).isEqualTo("Jwks remote fetch is failed");
    assertThat(legate.stat("http.ingress.jwt_authn.jwks_fetch_failed")).isGreaterThanOrEqualTo(1);
  }

  @Test
  void asyncFetchLoadsTheKeysAtStart() throws Exception {
    long deadline = System.currentTimeMillis() + 10_000;
    while (asyncFetches.get() == 0 && System.currentTimeMillis() < deadline) {
      Thread.sleep(20);
    }
    assertThat(asyncFetches.get()).isEqualTo(1);
    String t = token("anything", inOneHour());
    HttpResponse<String> r = legate.get("eager", "/e", "authorization", "Bearer " + t);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).doesNotContain("authorization:");
    assertThat(asyncFetches.get()).isEqualTo(1);
  }
}
