package io.legate.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class XxHash64Test {
  @Test
  void knownVectors() {
    assertThat(XxHash64.hash("")).isEqualTo(0xEF46DB3751D8E999L);
    assertThat(XxHash64.hash("abc")).isEqualTo(0x44BC2CF5AD770999L);
    // 39 bytes: exercises the 32-byte stripes
    assertThat(XxHash64.hash("Nobody inspects the spammish repetition"))
        .isEqualTo(0xFBCEA83C8A378BF1L);
  }

  @Test
  void seedChangesTheHash() {
    assertThat(XxHash64.hash("abc", 1)).isNotEqualTo(XxHash64.hash("abc", 0));
    assertThat(XxHash64.hash("abc".getBytes(java.nio.charset.StandardCharsets.UTF_8), 0))
        .isEqualTo(XxHash64.hash("abc"));
  }
}
