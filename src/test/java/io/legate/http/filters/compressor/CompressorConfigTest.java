package io.legate.http.filters.compressor;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.legate.config.ConfigException;
import io.legate.server.Options;
import io.legate.server.Server;
import org.junit.jupiter.api.Test;

/** Compressor and decompressor configs: what loads, and the exact errors for what cannot. */
class CompressorConfigTest {
  static final String PREFIX = "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.";

  static String yaml(String filter, String routeExtra) {
    return """
        static_resources:
          listeners:
          - name: l
            address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: s
                  route_config:
                    virtual_hosts:
                    - name: v
                      domains: ["*"]
                      routes:
                      - match: { prefix: / }
                        direct_response: { status: 200 }
        %s
                  http_filters:
                  - name: c
                    typed_config:
        %s
                  - name: envoy.filters.http.router
                    typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
        """
        .formatted(indent(routeExtra, 16), indent(filter, 20));
  }

  static String indent(String s, int n) {
    return s.isEmpty() ? "" : s.stripIndent().lines().map(l -> " ".repeat(n) + l).reduce((a, b) -> a + "\n" + b).orElse("");
  }

  static void validate(String filter, String routeExtra) {
    Server.validate(new Options(null, yaml(filter, routeExtra), "validate", 1, "warning", "", "", 1));
  }

  static String compressor(String library) {
    return """
        "@type": type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor
        compressor_library:
          name: lib
          typed_config:
        """ + indent(library, 4);
  }

  @Test
  void everyLibraryLoadsWithItsOptions() {
    assertThatCode(
            () -> {
              validate(compressor("""
                  "@type": type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip
                  memory_level: 9
                  window_bits: 15
                  compression_level: COMPRESSION_LEVEL_7
                  compression_strategy: FILTERED
                  chunk_size: 65536
                  """), "");
              validate(compressor("""
                  "@type": type.googleapis.com/envoy.extensions.compression.brotli.compressor.v3.Brotli
                  quality: 11
                  window_bits: 24
                  encoder_mode: TEXT
                  """), "");
              validate(compressor("""
                  "@type": type.googleapis.com/envoy.extensions.compression.zstd.compressor.v3.Zstd
                  compression_level: 19
                  enable_checksum: true
                  strategy: BTULTRA2
                  dictionary: { inline_string: "alpha bravo charlie delta echo foxtrot" }
                  """), "");
              validate("""
                  "@type": type.googleapis.com/envoy.extensions.filters.http.decompressor.v3.Decompressor
                  decompressor_library:
                    name: d
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.compression.brotli.decompressor.v3.Brotli
                  """, "");
            })
        .doesNotThrowAnyException();
  }

  @Test
  void optionsTheBindingsCannotHonourAreRefusedWithTheirPath() {
    assertThatThrownBy(() -> validate(compressor("""
            "@type": type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip
            compression_strategy: RLE
            """), ""))
        .isInstanceOf(ConfigException.class)
        .hasMessageEndingWith(PREFIX + "http_filters[0].typed_config.compressor_library.typed_config.compression_strategy:"
            + " RLE is not supported (the JDK's zlib offers DEFAULT_STRATEGY, FILTERED, HUFFMAN_ONLY)");
    assertThatThrownBy(() -> validate(compressor("""
            "@type": type.googleapis.com/envoy.extensions.compression.brotli.compressor.v3.Brotli
            input_block_bits: 20
            """), ""))
        .hasMessageEndingWith(PREFIX + "http_filters[0].typed_config.compressor_library.typed_config.input_block_bits:"
            + " not supported (the brotli binding chooses the block size)");
    assertThatThrownBy(() -> validate(compressor("""
            "@type": type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip
            chunk_size: 100
            """), ""))
        .hasMessageEndingWith(PREFIX + "http_filters[0].typed_config.compressor_library.typed_config.chunk_size:"
            + " value must be inside range [4096, 65536]");
    assertThatThrownBy(() -> validate(compressor("""
            "@type": type.googleapis.com/envoy.extensions.compression.gzip.decompressor.v3.Gzip
            """), ""))
        .hasMessageEndingWith(PREFIX + "http_filters[0].typed_config.compressor_library.typed_config: unsupported"
            + " compressor library type type.googleapis.com/envoy.extensions.compression.gzip.decompressor.v3.Gzip"
            + " (supported: gzip, brotli, zstd)");
    assertThatThrownBy(() -> validate("""
            "@type": type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor
            """, ""))
        .hasMessageEndingWith(PREFIX + "http_filters[0].typed_config.compressor_library: value is required");
    assertThatThrownBy(() -> validate("""
            "@type": type.googleapis.com/envoy.extensions.filters.http.decompressor.v3.Decompressor
            decompressor_library:
              name: d
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.compression.zstd.decompressor.v3.Zstd
                dictionaries: [ { inline_string: a }, { inline_string: b } ]
            """, ""))
        .hasMessageEndingWith(PREFIX + "http_filters[0].typed_config.decompressor_library.typed_config.dictionaries:"
            + " at most one dictionary is supported");
  }

  @Test
  void perRouteConfigNeedsDisabledOrOverrides() {
    String gzip = compressor("""
        "@type": type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip
        """);
    assertThatCode(() -> validate(gzip, """
            typed_per_filter_config:
              c:
                "@type": type.googleapis.com/envoy.extensions.filters.http.compressor.v3.CompressorPerRoute
                overrides: { response_direction_config: { remove_accept_encoding_header: true } }
            """))
        .doesNotThrowAnyException();
    assertThatThrownBy(() -> validate(gzip, """
            typed_per_filter_config:
              c:
                "@type": type.googleapis.com/envoy.extensions.filters.http.compressor.v3.CompressorPerRoute
            """))
        .hasMessageEndingWith(
            "routes[0].typed_per_filter_config[\"c\"].override: value is required (set one of: disabled, overrides)");
  }
}
