package io.legate.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.util.AsciiString;
import java.util.HashSet;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class RequestIdTest {
  @Test
  void generatedRequestIdsAreVersion4UuidsInCanonicalText() {
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < 10_000; i++) {
      AsciiString id = ActiveStream.randomUuid();
      UUID u = UUID.fromString(id.toString());
      assertThat(u.toString()).isEqualTo(id.toString()); // lowercase, 8-4-4-4-12, no lost digits
      assertThat(u.version()).isEqualTo(4);
      assertThat(u.variant()).isEqualTo(2);
      seen.add(id.toString());
    }
    assertThat(seen).hasSize(10_000);
  }
}
