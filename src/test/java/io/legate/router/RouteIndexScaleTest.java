package io.legate.router;

import static io.legate.router.Fixtures.req;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class RouteIndexScaleTest {
  private static RouteTable table(int n, boolean caseInsensitive) {
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < n; i++) {
      sb.append("{\"name\":\"r").append(i).append("\",\"match\":{\"prefix\":\"/svc").append(i).append("/\"")
          .append(caseInsensitive && i % 2 == 1 ? ",\"case_sensitive\":false" : "")
          .append("},\"route\":{\"cluster\":\"c").append(i).append("\"}},");
      sb.append("{\"name\":\"p").append(i).append("\",\"match\":{\"path\":\"/exact").append(i)
          .append("\"},\"route\":{\"cluster\":\"c\"}},");
    }
    sb.append("{\"name\":\"regex\",\"match\":{\"safe_regex\":{\"regex\":\"/re/.*\"}},\"route\":{\"cluster\":\"re\"}},");
    sb.append("{\"name\":\"default\",\"match\":{\"prefix\":\"/\"},\"route\":{\"cluster\":\"d\"}}]");
    return Fixtures.routes(sb.toString());
  }

  private static int evaluations(RouteTable t, String path, String expectedRoute) {
    int[] counter = new int[1];
    Route r = t.route(req(path), 0, counter);
    assertThat(r.name()).isEqualTo(expectedRoute);
    return counter[0];
  }

  @Test
  void evaluationsDoNotGrowWithRouteCount() {
    RouteTable small = table(10, false);
    RouteTable big = table(10_000, false);
    assertThat(evaluations(small, "/svc9/x", "r9")).isEqualTo(1);
    assertThat(evaluations(big, "/svc9999/x", "r9999")).isEqualTo(1);
    assertThat(evaluations(big, "/exact5000", "p5000")).isEqualTo(1);
    // Candidates /svc1/ would not contain /svc10/: only the matching prefix and the catch-all.
    assertThat(evaluations(big, "/svc10/", "r10")).isEqualTo(1);
    // A miss evaluates the regex (always evaluated) and then the catch-all.
    assertThat(evaluations(small, "/nothing", "default")).isEqualTo(2);
    assertThat(evaluations(big, "/nothing", "default")).isEqualTo(2);
    assertThat(evaluations(big, "/re/x", "regex")).isEqualTo(1);
  }

  @Test
  void caseInsensitivePrefixesAreIndexedToo() {
    RouteTable big = table(10_000, true);
    assertThat(evaluations(big, "/SVC9999/x", "r9999")).isEqualTo(1);
    // Case-sensitive route 9998 does not match upper case: its trie is not consulted.
    assertThat(evaluations(big, "/SVC9998/x", "default")).isEqualTo(2);
    assertThat(evaluations(big, "/svc9998/x", "r9998")).isEqualTo(1);
  }
}
