package io.legate.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class JsonTreeTest {
  @Test
  void yamlNumbersStayAsWritten() {
    assertThat(JsonTree.toJson(JsonTree.fromYaml("a: 1\nb: 1.50\nc: 0.25\nd: -7\ne: 12345678901234567890\nf: 1_000\n")))
        .isEqualTo("{\"a\":1,\"b\":1.50,\"c\":0.25,\"d\":-7,\"e\":12345678901234567890,\"f\":1000}");
  }

  @Test
  void yaml11Spellings() {
    assertThat(JsonTree.toJson(JsonTree.fromYaml("a: on\nb: 0755\nc: 0x1F\nd: .inf\ne: \"on\"\nf: ~\ng: yes\nh: 1:30\n")))
        .isEqualTo("{\"a\":true,\"b\":493,\"c\":31,\"d\":\"Infinity\",\"e\":\"on\",\"f\":null,\"g\":true,\"h\":90}");
  }

  @Test
  void anchorsAndMergeKeys() {
    String yaml = "base: &b { x: 1, y: 2 }\nuse:\n  <<: *b\n  y: 3\nlist: [*b]\n";
    assertThat(JsonTree.toJson(JsonTree.fromYaml(yaml)))
        .isEqualTo("{\"base\":{\"x\":1,\"y\":2},\"use\":{\"y\":3,\"x\":1},\"list\":[{\"x\":1,\"y\":2}]}");
  }

  @Test
  void ignoreTaggedKeysAreDropped() {
    String yaml = "!ignore anchors:\n- &port { port_value: 80 }\naddress: *port\n";
    assertThat(JsonTree.toJson(JsonTree.fromYaml(yaml))).isEqualTo("{\"address\":{\"port_value\":80}}");
  }

  @Test
  void jsonStringsAreEscapedBothWays() {
    Object tree = JsonTree.fromJson("{\"a\": \"q\\\"b\\\\s\\n\\u0001\\u00e9/\\/\"}");
    assertThat(JsonTree.toJson(tree)).isEqualTo("{\"a\":\"q\\\"b\\\\s\\n\\u0001\u00e9//\"}");
  }

  @Test
  void jsonErrorsHaveAPosition() {
    assertThatThrownBy(() -> JsonTree.fromJson("{\"a\": 1,\n \"a\": 2}"))
        .isInstanceOf(ConfigException.class).hasMessage("invalid JSON: duplicate key 'a' at line 2, column 2");
    assertThatThrownBy(() -> JsonTree.fromJson("{\"a\": 01}"))
        .isInstanceOf(ConfigException.class).hasMessage("invalid JSON: invalid value at line 1, column 7");
    assertThatThrownBy(() -> JsonTree.fromJson("{\"a\": 1} x"))
        .isInstanceOf(ConfigException.class).hasMessage("invalid JSON: unexpected text after the end of the document"
            + " at line 1, column 10");
  }

  @Test
  void aliasBombsAreRefused() {
    StringBuilder yaml = new StringBuilder("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 9; i++) {
      yaml.append("a").append(i).append(": &a").append(i).append(" [");
      for (int j = 0; j < 10; j++) {
        yaml.append(j == 0 ? "" : ", ").append("*a").append(i - 1);
      }
      yaml.append("]\n");
    }
    assertThatThrownBy(() -> JsonTree.fromYaml(yaml.toString()))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("invalid YAML: the document expands to more than 5000000 values (through aliases)");
  }

  @Test
  void multipleDocumentsAreRefused() {
    assertThatThrownBy(() -> JsonTree.fromYaml("a: 1\n---\nb: 2\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("invalid YAML: expected a single document in the stream");
  }

  @Test
  void emptyDocuments() {
    assertThat(JsonTree.fromYaml("")).isNull();
    assertThat(JsonTree.fromJson("  ")).isNull();
  }
}
