package io.legate.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import io.legate.config.ConfigException;
import io.legate.config.ConfigLoader;
import io.legate.stats.StatsStore;
import java.math.BigInteger;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Static secrets, secrets by name in contexts, the apply/rotate path, redaction. */
class SecretManagerTest {
  final StatsStore stats = new StatsStore();
  final TestCerts certs = TestCerts.get();
  final TestCerts.Leaf one = certs.leaf("sm-one", "RSA", "one.test", "dns:one.test");
  final TestCerts.Leaf two = certs.leaf("sm-two", "EC", "two.test", "dns:two.test");

  static Secret secret(String yaml) {
    return ConfigLoader.parse(yaml, Secret.newBuilder(), "test").build();
  }

  Secret cert(String name, TestCerts.Leaf leaf) {
    return secret("{name: " + name + ", tls_certificate: {certificate_chain: {filename: \"" + leaf.certPem()
        + "\"}, private_key: {filename: \"" + leaf.keyPem() + "\"}}}");
  }

  DownstreamTlsContext downstream(String commonTlsContext) {
    return ConfigLoader.parse("{common_tls_context: " + commonTlsContext + "}", DownstreamTlsContext.newBuilder(), "test").build();
  }

  ServerTlsContext build(SecretManager m, String common) {
    return ServerTlsContext.build(downstream(common), "tc", stats.scope("listener.x."), new TlsStats(stats.scope("listener.x.")), m);
  }

  @Test
  void staticSecretErrorsNameTheField() {
    assertThatThrownBy(() -> new SecretManager(List.of(cert("a", one), cert("a", two)), "static_resources.secrets"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("static_resources.secrets[1].name: Duplicate static TlsCertificate secret name a");
    assertThatThrownBy(() -> new SecretManager(List.of(secret("{name: x}")), "s"))
        .hasMessage("s[0]: secret type is not set: one of tls_certificate, validation_context, generic_secret is required");
    assertThatThrownBy(() -> new SecretManager(List.of(secret("{tls_certificate: {}}")), "s"))
        .hasMessage("s[0].name: a static secret needs a name");
    assertThatThrownBy(() -> new SecretManager(List.of(cert("a", one).toBuilder().setTlsCertificate(
            cert("a", one).getTlsCertificate().toBuilder().setPrivateKey(cert("b", two).getTlsCertificate().getPrivateKey())).build()), "s"))
        .hasMessage("s[0].tls_certificate.private_key: the private key does not match the certificate's RSA key");
    new SecretManager(List.of(secret("{name: g, generic_secret: {secret: {inline_string: x}}}")), "s");
  }

  @Test
  void contextsFindSecretsByNameAndKind() {
    SecretManager m = new SecretManager(
        List.of(cert("a", one), secret("{name: ca, validation_context: {trusted_ca: {filename: \"" + certs.caPem + "\"}}}")), "s");
    ServerTlsContext t = build(m, "{tls_certificate_sds_secret_configs: [{name: a}], validation_context_sds_secret_config: {name: ca}}");
    assertThat(t.hasCertificates()).isTrue();
    assertThat(t.ready()).isDone();
    assertThat(t.requestsClientCertificate()).isTrue();
    assertThatThrownBy(() -> build(m, "{tls_certificate_sds_secret_configs: [{name: ca}]}"))
        .hasMessage("tc.common_tls_context.tls_certificate_sds_secret_configs[0].name: Unknown static secret: ca");
    assertThatThrownBy(() -> build(m, "{tls_certificate_sds_secret_configs: [{name: a}], validation_context_sds_secret_config: {name: a}}"))
        .hasMessage("tc.common_tls_context.validation_context_sds_secret_config.name: Unknown static certificate validation context: a");
    assertThatThrownBy(() -> build(m, "{tls_certificate_sds_secret_configs: [{name: a, sds_config: {ads: {}}}]}"))
        .hasMessage("tc.common_tls_context.tls_certificate_sds_secret_configs[0].sds_config: SDS is not available here: give the secret in static_resources.secrets");
    assertThatThrownBy(() -> build(m, "{tls_certificate_sds_secret_configs: [{name: a}], combined_validation_context: {default_validation_context: {}}}"))
        .hasMessage("tc.common_tls_context.combined_validation_context.validation_context_sds_secret_config: value is required");
  }

  @Test
  void aDynamicSecretWarmsTheContextThenRotatesIt() throws Exception {
    SecretManager m = new SecretManager();
    SecretProvider p = SecretProvider.dynamic("dyn");
    m.setDynamicSource((name, source, path) -> {
      assertThat(name).isEqualTo("dyn");
      assertThat(source).isEqualTo(ConfigSource.newBuilder().setAds(io.envoyproxy.envoy.config.core.v3.AggregatedConfigSource.getDefaultInstance()).build());
      return p;
    });
    ServerTlsContext t = build(m, "{tls_certificate_sds_secret_configs: [{name: dyn, sds_config: {ads: {}}}]}");
    assertThat(t.hasCertificates()).isFalse();
    assertThat(t.ready()).isNotDone();
    assertThat(t.newHandler(io.netty.buffer.ByteBufAllocator.DEFAULT, null, false)).isNull();
    assertThat(m.certificates().getCertificatesCount()).isZero();
    assertThat(m.daysUntilFirstCertExpiring()).isEqualTo(SecretManager.NO_CERTIFICATE_DAYS);

    SecretManager.apply(Map.of(p, cert("dyn", one)), "v1").run();
    assertThat(t.ready()).isDone();
    assertThat(p.version()).isEqualTo("v1");
    io.netty.handler.ssl.SslContext first = t.select(null);
    assertThat(first).isNotNull();
    assertThat(m.certificates().getCertificates(0).getCertChain(0).getPath()).isEqualTo(one.certPem().toString());

    // a secret that does not build changes nothing
    Secret bad = cert("dyn", two).toBuilder().setTlsCertificate(
        cert("dyn", two).getTlsCertificate().toBuilder().setPrivateKey(cert("x", one).getTlsCertificate().getPrivateKey())).build();
    assertThatThrownBy(() -> SecretManager.apply(Map.of(p, bad), "v2"))
        .hasMessage("dyn.tls_certificate.private_key: the private key does not match the certificate's EC key");
    assertThat(t.select(null)).isSameAs(first);
    assertThat(p.version()).isEqualTo("v1");

    SecretManager.apply(Map.of(p, cert("dyn", two)), "v3").run();
    assertThat(t.select(null)).isNotSameAs(first);
    assertThat(m.certificates().getCertificates(0).getCertChain(0).getPath()).isEqualTo(two.certPem().toString());
    assertThat(m.daysUntilFirstCertExpiring()).isEqualTo(29);
  }

  @Test
  void redactsPrivateKeysAndPrintsSerialsAsEnvoy() throws Exception {
    Secret inline = secret("{name: a, tls_certificate: {certificate_chain: {inline_string: c}, private_key: {inline_string: k}, password: {inline_bytes: cA==}}}");
    assertThat(SecretManager.redacted(inline)).isEqualTo(secret(
        "{name: a, tls_certificate: {certificate_chain: {inline_string: c}, private_key: {inline_string: '[redacted]'}, password: {inline_bytes: W3JlZGFjdGVkXQ==}}}"));
    assertThat(SecretManager.redacted(cert("f", one))).isEqualTo(cert("f", one));
    assertThat(SecretManager.serial(new BigInteger("abc", 16))).isEqualTo("0abc");
    assertThat(SecretManager.serial(new BigInteger("1f2e", 16))).isEqualTo("1f2e");
    assertThat(Files.exists(one.certPem())).isTrue();
  }
}
