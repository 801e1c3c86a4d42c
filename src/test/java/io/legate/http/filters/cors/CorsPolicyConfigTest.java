package io.legate.http.filters.cors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.envoyproxy.envoy.extensions.filters.http.cors.v3.CorsPolicy;
import io.legate.config.ConfigException;
import io.legate.config.ConfigLoader;
import org.junit.jupiter.api.Test;

class CorsPolicyConfigTest {
  static CorsPolicyConfig build(String yaml) {
    return CorsPolicyConfig.build(ConfigLoader.parse(yaml, CorsPolicy.newBuilder(), "test").build(), "cors");
  }

  @Test
  void defaultsAreEnabledNotShadowedAndForwarding() {
    CorsPolicyConfig c = build("allow_origin_string_match: [ { prefix: \"https://\" } ]");
    assertThat(c.enabled()).isTrue();
    assertThat(c.shadowEnabled()).isFalse();
    assertThat(c.forwardNotMatchingPreflights()).isTrue();
    assertThat(c.allowCredentials()).isFalse();
    assertThat(c.originAllowed("https://a")).isTrue();
    assertThat(c.originAllowed("http://a")).isFalse();
  }

  @Test
  void percentagesUseTheirDenominator() {
    CorsPolicyConfig c = build("""
        filter_enabled: { default_value: { numerator: 0, denominator: MILLION } }
        shadow_enabled: { default_value: { numerator: 10000, denominator: TEN_THOUSAND } }
        """);
    assertThat(c.enabled()).isFalse();
    assertThat(c.shadowEnabled()).isTrue();
  }

  @Test
  void aMatcherOfStarAllowsEveryOrigin() {
    assertThat(build("allow_origin_string_match: [ { exact: \"*\" } ]").originAllowed("https://x")).isTrue();
    assertThat(build("allow_origin_string_match: [ { safe_regex: { regex: \"https://[a-z]+\\\\.test\" } } ]")
        .originAllowed("https://abc.test")).isTrue();
  }

  @Test
  void badMatchersAreRefusedByPath() {
    assertThatThrownBy(() -> build("allow_origin_string_match: [ { exact: a }, { prefix: \"\" } ]"))
        .isInstanceOf(ConfigException.class)
        .hasMessageEndingWith("allow_origin_string_match[1].prefix: must not be empty");
  }
}
