package io.legate.config;

import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import org.junit.jupiter.api.Test;

class ProfileScratchTest {
  @Test
  void phases() throws Exception {
    String yaml = LoadPerformanceTest.routes(10_000).replaceAll("(?m)^                request_headers_to_add:\n.*\n", ""); System.out.println("PHASE size " + yaml.length());
    for (int round = 0; round < 3; round++) {
      long c0 = System.nanoTime();
      var opts = new org.yaml.snakeyaml.LoaderOptions(); opts.setCodePointLimit(256*1024*1024);
      new org.yaml.snakeyaml.Yaml(opts).compose(new java.io.StringReader(yaml));
      long c1 = System.nanoTime();
      var it = new org.yaml.snakeyaml.Yaml(opts).parse(new java.io.StringReader(yaml)).iterator(); int n = 0; while (it.hasNext()) { it.next(); n++; }
      long c2 = System.nanoTime();
      System.out.printf("PHASE compose %d events %d (%d)%n", (c1-c0)/1000000, (c2-c1)/1000000, n);
      long t0 = System.nanoTime();
      Object tree = JsonTree.fromYaml(yaml);
      long t1 = System.nanoTime();
      JsonChecker c = new JsonChecker(true, TypeResolver.get());
      c.checkRoot(tree, Bootstrap.getDescriptor(), FieldPath.ROOT);
      long t2 = System.nanoTime();
      String json = JsonTree.toJson(tree);
      long t3 = System.nanoTime();
      var types = new java.util.ArrayList<>(c.anyTypes());
      TypeResolver.get().register(types);
      var b = Bootstrap.newBuilder();
      com.google.protobuf.util.JsonFormat.parser().usingTypeRegistry(TypeResolver.get().registry()).merge(json, b);
      long t4 = System.nanoTime();
      ProtoValidator.validate(b.build(), "");
      long t5 = System.nanoTime();
      System.out.printf("PHASE yaml %d check %d tojson %d jsonformat %d pgv %d%n", (t1-t0)/1000000, (t2-t1)/1000000, (t3-t2)/1000000, (t4-t3)/1000000, (t5-t4)/1000000);
    }
  }
}
