// The `query` template function's side outside the template engine: turning datasource
// outcomes into the answers Prometheus's templates would see, and gathering the answers an
// evaluation needs in rounds of asynchronous queries (an expression may be built from the
// labels, the value or another query's result, so it is only known by rendering).

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "promwatch/rules.hpp"

namespace promwatch {

namespace {

bool strip_prefix(std::string& s, std::string_view prefix) {
  if (s.compare(0, prefix.size(), prefix) != 0) return false;
  s.erase(0, prefix.size());
  return true;
}

// One resolution in progress: the answers so far and the round's outstanding queries.
struct Resolution : std::enable_shared_from_this<Resolution> {
  TemplateQueryCollector collect;
  TemplateQueryRunner run;
  std::function<void(TemplateQueryAnswers)> done;
  TemplateQueryAnswers answers;
  int rounds_left = 0;
  std::size_t outstanding = 0;

  void next_round() {
    std::vector<std::string> wanted;
    if (rounds_left > 0) wanted = collect(answers);
    // Whatever the collector asks for again was answered already; only new ones run.
    std::erase_if(wanted, [&](const std::string& e) { return answers.count(e) != 0; });
    if (wanted.empty()) {
      auto finish = std::move(done);
      finish(std::move(answers));
      return;
    }
    --rounds_left;
    outstanding = wanted.size();
    // The runner calls back later, from the loop, never inline: but be safe if one does, by
    // counting every query in before the first can finish.
    auto self = shared_from_this();
    for (std::string& expr : wanted) {
      std::string key = expr;
      run(expr, [self, key = std::move(key)](QueryOutcome outcome) {
        self->answers[key] = template_query_answer(outcome);
        if (--self->outstanding == 0) self->next_round();
      });
    }
  }
};

}  // namespace

TemplateQueryAnswer template_query_answer(const QueryOutcome& outcome) {
  TemplateQueryAnswer a;
  a.ok = outcome.ok;
  if (outcome.ok) {
    a.samples = outcome.result.samples;
    return a;
  }
  a.error = outcome.error;
  // The HTTP API prefixes its errorType (api/v1/api.go); the engine's error follows.
  for (std::string_view type : {"bad_data: ", "execution: ", "timeout: ", "canceled: ", "internal: ",
                                "unavailable: ", "not_found: "}) {
    if (strip_prefix(a.error, type)) break;
  }
  // The API wraps the engine's parse error as a bad parameter.
  strip_prefix(a.error, "invalid parameter \"query\": ");
  // EngineQueryFunc accepts vectors and scalars only.
  if (outcome.error == "unsupported result type matrix" || outcome.error == "unsupported result type string")
    a.error = "rule result is not a vector or scalar";
  return a;
}

void resolve_template_queries(TemplateQueryCollector collect, TemplateQueryRunner run,
                              std::function<void(TemplateQueryAnswers)> done, int max_rounds) {
  auto r = std::make_shared<Resolution>();
  r->collect = std::move(collect);
  r->run = std::move(run);
  r->done = std::move(done);
  r->rounds_left = max_rounds;
  r->next_round();
}

}  // namespace promwatch
