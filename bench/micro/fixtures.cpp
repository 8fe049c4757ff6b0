#include "fixtures.hpp"

#include <cstdlib>

namespace bench {

std::string vector_body(int n) {
  std::string body = R"({"status":"success","data":{"resultType":"vector","result":[)";
  for (int i = 0; i < n; ++i) {
    if (i) body += ',';
    body += R"({"metric":{"__name__":"bench_w2","instance":"host-)";
    body += std::to_string(i);
    body += R"(:9100","job":"bench","region":"r)";
    body += std::to_string(i % 7);
    body += R"("},"value":[1764000000.123,")";
    body += std::to_string(1 + i % 97);
    body += R"("]})";
  }
  body += "]}}";
  return body;
}

std::vector<promwatch::Sample> vector_samples(int n) {
  auto outcome = promwatch::parse_query_response(vector_body(n), 200);
  if (!outcome.ok) std::abort();
  return std::move(outcome.result.samples);
}

}  // namespace bench
