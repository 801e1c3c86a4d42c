package io.legate.http.filters.csrf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.envoyproxy.envoy.extensions.filters.http.csrf.v3.CsrfPolicy;
import io.legate.config.ConfigException;
import io.legate.config.ConfigLoader;
import org.junit.jupiter.api.Test;

class CsrfPolicyConfigTest {
  static CsrfPolicyConfig build(String yaml) {
    return CsrfPolicyConfig.build(ConfigLoader.parse(yaml, CsrfPolicy.newBuilder(), "test").build(), "csrf");
  }

  @Test
  void filterEnabledIsRequired() {
    assertThatThrownBy(() -> build("additional_origins: [ { exact: a } ]"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("csrf.filter_enabled: is required");
  }

  @Test
  void shadowDefaultsToOffAndPercentagesUseTheirDenominator() {
    CsrfPolicyConfig c = build("filter_enabled: { default_value: { numerator: 1000000, denominator: MILLION } }");
    assertThat(c.enabled()).isTrue();
    assertThat(c.shadowEnabled()).isFalse();
    CsrfPolicyConfig s = build("""
        filter_enabled: { default_value: { numerator: 0 } }
        shadow_enabled: { default_value: { numerator: 10000, denominator: TEN_THOUSAND } }
        """);
    assertThat(s.enabled()).isFalse();
    assertThat(s.shadowEnabled()).isTrue();
  }

  @Test
  void additionalOriginsAreStringMatchers() {
    CsrfPolicyConfig c = build("""
        filter_enabled: { default_value: { numerator: 100 } }
        additional_origins: [ { suffix: ".trusted.example" }, { exact: "b.example:8443" } ]
        """);
    assertThat(c.additionalOriginAllowed("a.trusted.example")).isTrue();
    assertThat(c.additionalOriginAllowed("b.example:8443")).isTrue();
    assertThat(c.additionalOriginAllowed("b.example")).isFalse();
    assertThatThrownBy(() -> build("filter_enabled: {}\nadditional_origins: [ { safe_regex: { regex: \"(\" } } ]"))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("csrf.additional_origins[0]");
  }

  @Test
  void hostAndPortOfOriginsAndReferers() {
    assertThat(CsrfFilter.hostAndPort("https://a.example")).isEqualTo("a.example");
    assertThat(CsrfFilter.hostAndPort("http://a.example:8080/page?q#f")).isEqualTo("a.example:8080");
    assertThat(CsrfFilter.hostAndPort("https://user@a.example/x")).isEqualTo("a.example");
    assertThat(CsrfFilter.hostAndPort("null")).isEqualTo("null");
    assertThat(CsrfFilter.hostAndPort("")).isEmpty();
    assertThat(CsrfFilter.hostAndPort(null)).isEmpty();
  }
}
