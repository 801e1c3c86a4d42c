package io.legate.http.filters.compressor;

import static org.assertj.core.api.Assertions.assertThat;

import com.aayushatharva.brotli4j.Brotli4jLoader;
import com.aayushatharva.brotli4j.decoder.BrotliInputStream;
import com.github.luben.zstd.ZstdInputStream;
import io.legate.testing.H2Client;
import io.legate.testing.Legate;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The compressor and decompressor filters in a whole server, between a real client (decoding by
 * hand) and a real upstream serving known bodies.
 */
class CompressionIntegrationTest {
  static final String HCM =
      "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
  static final String COMPRESSOR = "type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor";
  static final String PER_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.compressor.v3.CompressorPerRoute";
  static final String DECOMPRESSOR = "type.googleapis.com/envoy.extensions.filters.http.decompressor.v3.Decompressor";
  static final String ROUTER = "{ \"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }";

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
                "@type": %1$s
                stat_prefix: front
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: /off/ }
                      route: { cluster: up, prefix_rewrite: / }
                      typed_per_filter_config:
                        gzip-compressor: { "@type": %3$s, disabled: true }
                    - match: { prefix: / }
                      route: { cluster: up }
                http_filters:
                - name: gzip-compressor
                  typed_config:
                    "@type": %2$s
                    compressor_library:
                      name: gz
                      typed_config:
                        "@type": type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip
                        compression_level: BEST_SPEED
                        chunk_size: 8192
                - name: br-compressor
                  typed_config:
                    "@type": %2$s
                    compressor_library:
                      name: br
                      typed_config:
                        "@type": type.googleapis.com/envoy.extensions.compression.brotli.compressor.v3.Brotli
                        quality: 4
                - name: zstd-compressor
                  typed_config:
                    "@type": %2$s
                    compressor_library:
                      name: zs
                      typed_config:
                        "@type": type.googleapis.com/envoy.extensions.compression.zstd.compressor.v3.Zstd
                        compression_level: 3
                        enable_checksum: true
                - name: envoy.filters.http.router
                  typed_config: %5$s
        - name: strict
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": %1$s
                stat_prefix: strict
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: / }
                      route: { cluster: up }
                http_filters:
                - name: envoy.filters.http.compressor
                  typed_config:
                    "@type": %2$s
                    response_direction_config:
                      common_config:
                        min_content_length: 100
                        content_type: [ text/plain, application/json ]
                      disable_on_etag_header: true
                      remove_accept_encoding_header: true
                      uncompressible_response_codes: [ 206 ]
                    compressor_library:
                      name: gz
                      typed_config:
                        "@type": type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip
                - name: envoy.filters.http.router
                  typed_config: %5$s
        - name: decomp
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": %1$s
                stat_prefix: decomp
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: / }
                      route: { cluster: up }
                http_filters:
                - name: envoy.filters.http.decompressor
                  typed_config:
                    "@type": %4$s
                    decompressor_library:
                      name: up
                      typed_config:
                        "@type": type.googleapis.com/envoy.extensions.compression.gzip.decompressor.v3.Gzip
                        max_inflate_ratio: 1000
                - name: envoy.filters.http.router
                  typed_config: %5$s
        - name: upload
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": %1$s
                stat_prefix: upload
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: / }
                      route: { cluster: up }
                http_filters:
                - name: envoy.filters.http.compressor
                  typed_config:
                    "@type": %2$s
                    request_direction_config:
                      common_config:
                        content_type: [ application/octet-stream ]
                    response_direction_config:
                      common_config:
                        enabled: { default_value: false, runtime_key: response_compression }
                    compressor_library:
                      name: zs
                      typed_config:
                        "@type": type.googleapis.com/envoy.extensions.compression.zstd.compressor.v3.Zstd
                - name: envoy.filters.http.router
                  typed_config: %5$s
        clusters:
        - name: up
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: up
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } }
      """
          .formatted(HCM, COMPRESSOR, PER_ROUTE, DECOMPRESSOR, ROUTER);

  static BodyUpstream up;
  static Legate legate;
  static final HttpClient client =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeAll
  static void start() {
    Brotli4jLoader.ensureAvailability();
    up = new BodyUpstream();
    legate = Legate.start(CONFIG, Map.of("UP", up.port()));
  }

  @AfterAll
  static void stop() {
    if (legate != null) {
      legate.close();
    }
    if (up != null) {
      up.close();
    }
  }

  static HttpResponse<byte[]> get(String listener, String path, String... headers) throws Exception {
    return send(listener, "GET", path, null, headers);
  }

  static HttpResponse<byte[]> send(String listener, String method, String path, byte[] body, String... headers)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + legate.port(listener) + path))
            .timeout(Duration.ofSeconds(30))
            .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return client.sendAsync(b.build(), HttpResponse.BodyHandlers.ofByteArray()).get(30, TimeUnit.SECONDS);
  }

  static byte[] decode(String encoding, byte[] data) throws IOException {
    InputStream in =
        switch (encoding) {
          case "gzip" -> new GZIPInputStream(new ByteArrayInputStream(data));
          case "br" -> new BrotliInputStream(new ByteArrayInputStream(data));
          case "zstd" -> new ZstdInputStream(new ByteArrayInputStream(data));
          default -> throw new AssertionError(encoding);
        };
    try (in) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      in.transferTo(out);
      return out.toByteArray();
    }
  }

  static String header(HttpResponse<?> r, String name) {
    return r.headers().firstValue(name).orElse(null);
  }

  @Test
  void eachEncodingIsChosenByTheClientAndDecodesToTheSameBytes() throws Exception {
    byte[] want = BodyUpstream.body(50_000);
    long gz = legate.stat("http.front.compressor.gz.gzip.compressed");
    long br = legate.stat("http.front.compressor.br.brotli.compressed");
    long zs = legate.stat("http.front.compressor.zs.zstd.compressed");
    long overshadowed = legate.stat("http.front.compressor.gz.gzip.header_compressor_overshadowed");
    long in = legate.stat("http.front.compressor.gz.gzip.total_uncompressed_bytes");
    long out = legate.stat("http.front.compressor.gz.gzip.total_compressed_bytes");
    for (String enc : new String[] {"gzip", "br", "zstd"}) {
      HttpResponse<byte[]> r = get("front", "/body?len=50000", "Accept-Encoding", enc);
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(header(r, "content-encoding")).as(enc).isEqualTo(enc);
      assertThat(header(r, "content-length")).as(enc).isNull();
      assertThat(header(r, "vary")).isEqualTo("Accept-Encoding");
      assertThat(r.body().length).as(enc).isLessThan(want.length / 2);
      assertThat(decode(enc, r.body())).as(enc).isEqualTo(want);
    }
    assertThat(legate.stat("http.front.compressor.gz.gzip.compressed")).isEqualTo(gz + 1);
    assertThat(legate.stat("http.front.compressor.br.brotli.compressed")).isEqualTo(br + 1);
    assertThat(legate.stat("http.front.compressor.zs.zstd.compressed")).isEqualTo(zs + 1);
    // gzip's filter saw br and zstd chosen by the client
    assertThat(legate.stat("http.front.compressor.gz.gzip.header_compressor_overshadowed")).isEqualTo(overshadowed + 2);
    assertThat(legate.stat("http.front.compressor.gz.gzip.total_uncompressed_bytes")).isEqualTo(in + 50_000);
    assertThat(legate.stat("http.front.compressor.gz.gzip.total_compressed_bytes") - out).isBetween(1L, 25_000L);
  }

  @Test
  void qValuesWildcardAndIdentityDecide() throws Exception {
    byte[] want = BodyUpstream.body(4000);
    String[][] cases = {
      {"gzip;q=0.5, br;q=0.8, zstd;q=0.1", "br"},
      {"gzip, br", "gzip"}, // equal q: the first listed wins
      {"deflate, *", "gzip"}, // wildcard: the first registered compressor
      {"*;q=0.5, br;q=0", "gzip"},
      {"gzip;q=0, br;q=0, zstd;q=0, *", null},
      {"identity", null},
      {"identity;q=0, zstd;q=0.3", "zstd"},
      {"deflate", null},
      {"gzip;q=abc", null},
    };
    for (String[] c : cases) {
      HttpResponse<byte[]> r = get("front", "/body?len=4000", "Accept-Encoding", c[0]);
      assertThat(header(r, "content-encoding")).as(c[0]).isEqualTo(c[1]);
      assertThat(c[1] == null ? r.body() : decode(c[1], r.body())).as(c[0]).isEqualTo(want);
      assertThat(header(r, "vary")).as(c[0]).isEqualTo("Accept-Encoding");
    }
  }

  @Test
  void largeChunkedBodiesStreamThroughEachCompressor() throws Exception {
    int len = 6 << 20;
    byte[] want = BodyUpstream.body(len);
    for (String enc : new String[] {"gzip", "br", "zstd"}) {
      HttpResponse<byte[]> r = get("front", "/body?chunked=1&len=" + len, "Accept-Encoding", enc);
      assertThat(header(r, "content-encoding")).as(enc).isEqualTo(enc);
      assertThat(decode(enc, r.body())).as(enc).isEqualTo(want);
    }
  }

  @Test
  void overHttp2TheLastChunkIsEmittedBeforeTheTrailers() throws Exception {
    int len = 300_000;
    try (H2Client h2 = new H2Client(legate.port("front"))) {
      for (String enc : new String[] {"gzip", "br", "zstd"}) {
        H2Client.Response r =
            h2.send("GET", "/body?chunked=1&trailers=1&len=" + len, "localhost", null,
                new DefaultHttp2Headers().add("accept-encoding", enc));
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.headers().get("content-encoding")).hasToString(enc);
        assertThat(r.trailers()).as(enc).isNotNull();
        assertThat(r.trailers().get("x-trailer")).hasToString("done");
        assertThat(decode(enc, r.bodyBytes())).as(enc).isEqualTo(BodyUpstream.body(len));
      }
    }
  }

  @Test
  void perRouteDisabledTurnsOneCompressorOff() throws Exception {
    HttpResponse<byte[]> r = get("front", "/off/body?len=4000", "Accept-Encoding", "gzip");
    assertThat(header(r, "content-encoding")).isNull();
    assertThat(r.body()).isEqualTo(BodyUpstream.body(4000));
    // The other compressors still serve that route.
    r = get("front", "/off/body?len=4000", "Accept-Encoding", "br");
    assertThat(header(r, "content-encoding")).isEqualTo("br");
  }

  @Test
  void responsesThatMustNotBeCompressedAreLeftAlone() throws Exception {
    byte[] plain = BodyUpstream.body(4000);
    long noAccept = legate.stat("http.strict.compressor.gz.gzip.no_accept_header");
    HttpResponse<byte[]> r = get("strict", "/body?len=4000");
    assertThat(header(r, "content-encoding")).isNull();
    assertThat(r.body()).isEqualTo(plain);
    assertThat(header(r, "vary")).isEqualTo("Accept-Encoding");
    assertThat(legate.stat("http.strict.compressor.gz.gzip.no_accept_header")).isEqualTo(noAccept + 1);

    String[] untouched = {
      "/body?len=4000&ct=image/png", // content type not listed
      "/body?len=99", // below min_content_length
      "/body?len=4000&cc=public,%20no-transform",
      "/body?len=4000&etag=%22abc%22", // disable_on_etag_header
      "/body?len=4000&status=206", // uncompressible_response_codes
    };
    for (String path : untouched) {
      r = get("strict", path, "Accept-Encoding", "gzip");
      assertThat(header(r, "content-encoding")).as(path).isNull();
      assertThat(header(r, "content-length")).as(path).isNotNull();
    }
    r = get("strict", "/body?len=4000&gzip=1", "Accept-Encoding", "gzip");
    assertThat(header(r, "content-encoding")).isEqualTo("gzip"); // already encoded: passed as is
    assertThat(decode("gzip", r.body())).isEqualTo(plain);
    assertThat(legate.stat("http.strict.compressor.gz.gzip.content_length_too_small")).isEqualTo(1);
    assertThat(legate.stat("http.strict.compressor.gz.gzip.not_compressed_etag")).isEqualTo(1);

    r = send("strict", "HEAD", "/body?len=4000", null, "Accept-Encoding", "gzip");
    assertThat(header(r, "content-encoding")).isNull();
    assertThat(header(r, "content-length")).isEqualTo("4000");
    for (int status : new int[] {204, 304}) {
      r = get("strict", "/body?len=4000&status=" + status, "Accept-Encoding", "gzip");
      assertThat(r.statusCode()).isEqualTo(status);
      assertThat(header(r, "content-encoding")).isNull();
    }
  }

  @Test
  void strictCompressesJsonRemovesAcceptEncodingAndKeepsVary() throws Exception {
    HttpResponse<byte[]> r =
        get("strict", "/body?len=3000&ct=application/json;%20charset=utf-8&vary=Origin", "Accept-Encoding", "gzip, br");
    assertThat(header(r, "content-encoding")).isEqualTo("gzip");
    assertThat(header(r, "vary")).isEqualTo("Origin, Accept-Encoding");
    assertThat(decode("gzip", r.body())).isEqualTo(BodyUpstream.body(3000));
    // remove_accept_encoding_header: the upstream never saw the client's Accept-Encoding.
    assertThat(up.acceptEncodings).doesNotContain("gzip, br");
    assertThat(legate.stat("http.strict.compressor.gz.gzip.header_compressor_used")).isGreaterThanOrEqualTo(1);
  }

  @Test
  void strongEtagIsWeakenedWhenCompressing() throws Exception {
    HttpResponse<byte[]> r = get("front", "/body?len=4000&etag=%22v1%22", "Accept-Encoding", "gzip");
    assertThat(header(r, "content-encoding")).isEqualTo("gzip");
    assertThat(header(r, "etag")).isEqualTo("W/\"v1\"");
    r = get("front", "/body?len=4000&etag=W/%22v2%22", "Accept-Encoding", "gzip");
    assertThat(header(r, "etag")).isEqualTo("W/\"v2\"");
  }

  @Test
  void gzipRequestBodyIsDecompressedForTheUpstream() throws Exception {
    byte[] plain = BodyUpstream.body(3 << 20);
    long decompressed = legate.stat("http.decomp.decompressor.up.gzip.request.decompressed");
    long bytes = legate.stat("http.decomp.decompressor.up.gzip.request.total_uncompressed_bytes");
    HttpResponse<byte[]> r =
        send("decomp", "POST", "/echo", BodyUpstream.gzip(plain), "Content-Encoding", "gzip", "Content-Type", "text/plain");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(header(r, "x-seen-content-encoding")).isEqualTo("null");
    assertThat(header(r, "x-seen-content-length")).isEqualTo(String.valueOf(plain.length)); // re-framed chunked, aggregated upstream
    assertThat(r.body()).isEqualTo(plain);
    assertThat(legate.stat("http.decomp.decompressor.up.gzip.request.decompressed")).isEqualTo(decompressed + 1);
    assertThat(legate.stat("http.decomp.decompressor.up.gzip.request.total_uncompressed_bytes")).isEqualTo(bytes + plain.length);
  }

  @Test
  void gzipResponseIsDecompressedForAClientThatDoesNotAcceptGzip() throws Exception {
    up.acceptEncodings.clear();
    long decompressed = legate.stat("http.decomp.decompressor.up.gzip.response.decompressed");
    byte[] plain = BodyUpstream.body(200_000);
    HttpResponse<byte[]> r = get("decomp", "/body?gzip=1&len=200000");
    assertThat(header(r, "content-encoding")).isNull();
    assertThat(header(r, "content-length")).isNull();
    assertThat(r.body()).isEqualTo(plain);
    // The decompressor told the upstream it may answer gzip.
    assertThat(up.acceptEncodings).containsExactly("gzip");
    assertThat(legate.stat("http.decomp.decompressor.up.gzip.response.decompressed")).isEqualTo(decompressed + 1);
  }

  @Test
  void corruptGzipRequestBodyResetsTheStream() throws Exception {
    byte[] bad = BodyUpstream.gzip(BodyUpstream.body(10_000));
    bad[20] ^= 0x55;
    bad[21] ^= 0x55;
    long errors = legate.stat("http.decomp.decompressor.up.gzip.decompressor_library.zlib_data_error");
    try {
      HttpResponse<byte[]> r = send("decomp", "POST", "/echo", bad, "Content-Encoding", "gzip");
      assertThat(r.statusCode()).isNotEqualTo(200);
    } catch (java.util.concurrent.ExecutionException expected) {
      // the connection was closed
    }
    assertThat(legate.stat("http.decomp.decompressor.up.gzip.decompressor_library.zlib_data_error")).isEqualTo(errors + 1);
  }

  @Test
  void requestCompressionEndsItsStreamBeforeRequestTrailers() throws Exception {
    byte[] plain = BodyUpstream.body(200_000);
    try (H2Client h2 = new H2Client(legate.port("upload"))) {
      H2Client.Response r =
          h2.send("POST", "/echo", "localhost", plain,
              new DefaultHttp2Headers().add("content-type", "application/octet-stream"),
              new DefaultHttp2Headers().add("x-request-trailer", "1"));
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.headers().get("x-seen-content-encoding")).hasToString("zstd");
      assertThat(decode("zstd", r.bodyBytes())).isEqualTo(plain);
    }
  }

  @Test
  void requestDirectionCompressesUploads() throws Exception {
    byte[] plain = BodyUpstream.body(1 << 20);
    HttpResponse<byte[]> r = send("upload", "POST", "/echo", plain, "Content-Type", "application/octet-stream");
    assertThat(header(r, "x-seen-content-encoding")).isEqualTo("zstd");
    assertThat(r.body().length).isLessThan(plain.length / 2);
    assertThat(decode("zstd", r.body())).isEqualTo(plain);
    assertThat(legate.stat("http.upload.compressor.zs.zstd.request.compressed")).isEqualTo(1);
    // Response compression is off there (enabled.default_value false).
    HttpResponse<byte[]> g = get("upload", "/body?len=4000", "Accept-Encoding", "zstd");
    assertThat(header(g, "content-encoding")).isNull();
  }
}
