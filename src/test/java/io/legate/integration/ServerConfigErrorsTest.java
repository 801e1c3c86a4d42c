package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.legate.config.ConfigException;
import io.legate.server.Options;
import io.legate.server.Server;
import org.junit.jupiter.api.Test;

/** Config the server refuses as a whole, with the field path. */
class ServerConfigErrorsTest {
  @Test
  void staticSecretsAreCheckedAtLoad() {
    String yaml =
        """
        static_resources:
          secrets:
          - name: server_cert
            tls_certificate:
              certificate_chain: { filename: /etc/certs/cert.pem }
              private_key: { filename: /etc/certs/key.pem }
        """;
    assertThatThrownBy(() -> Server.validate(new Options(null, yaml, "validate", 1, "warning", "", "", 1)))
        .isInstanceOf(ConfigException.class)
        .hasMessage("static_resources.secrets[0].tls_certificate.certificate_chain.filename: cannot read file '/etc/certs/cert.pem': no such file");
  }

  @Test
  void statsFlushOnAdminIsRefused() {
    String yaml =
        """
        stats_flush_on_admin: true
        """;
    assertThatThrownBy(() -> Server.validate(new Options(null, yaml, "validate", 1, "warning", "", "", 1)))
        .isInstanceOf(ConfigException.class)
        .hasMessage("stats_flush_on_admin: flushing stats on admin requests is not supported yet");
  }
}
