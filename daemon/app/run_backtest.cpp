// `promwatch backtest`: range queries in chunks, one after the other, each chunk replayed
// through the Backtest engine as soon as every rule's parts of it (expr, keep_firing_expr)
// have arrived, so that memory
// holds one chunk of results (plus the series for the picture when --html asks for it).

#include <boost/asio/io_context.hpp>
#include <algorithm>
#include <fstream>
#include <map>
#include <ostream>
#include <set>
#include <stdexcept>

#include "promwatch/app.hpp"
#include "promwatch/backtest.hpp"
#include "promwatch/datasource.hpp"
#include "promwatch/http_client.hpp"

namespace promwatch {

namespace {

// A year of one-minute slots; beyond that a backtest is a mistake, not a question.
constexpr std::size_t kMaxEvaluations = 1'000'000;

}  // namespace

int run_backtest(const BacktestOptions& options, std::ostream& out, std::ostream& err) {
  CompileResult result = compile_config(options.config_path);
  if (!result.compiled) {
    for (const auto& e : result.errors) err << e.to_string() << "\n";
    return kExitInvalidInput;
  }
  const CompiledConfig& compiled = *result.compiled;
  std::string error;
  auto target = find_backtest_rule(compiled.groups, options.rule, &error);
  if (!target) {
    err << "promwatch: backtest: " << error << "\n";
    return kExitInvalidInput;
  }
  const RuleGroup& group = compiled.groups[target->group];
  std::vector<const AlertingRule*> rules;
  for (std::size_t i : target->rules) rules.push_back(&group.rules()[i]);

  if (options.from > options.to) {
    err << "promwatch: backtest: --from is after --to\n";
    return kExitInvalidInput;
  }
  const Duration step = group.interval();
  if (step > Duration::zero() && (options.to - options.from) / step >= static_cast<Duration::rep>(kMaxEvaluations)) {
    err << "promwatch: backtest: [" << format_rfc3339(options.from) << ", " << format_rfc3339(options.to)
        << "] is more than " << kMaxEvaluations << " evaluations at the group interval " << format_duration(step)
        << "; choose a shorter range\n";
    return kExitInvalidInput;
  }
  const std::vector<TimePoint> slots = backtest_slots(group, options.from, options.to);
  const std::vector<QueryChunk> chunks = backtest_chunks(slots, group.query_offset());

  std::optional<Backtest> backtest;
  try {
    backtest.emplace(compiled.config, group, rules, options.from, options.to);
  } catch (const std::invalid_argument& e) {
    err << "promwatch: backtest: " << e.what() << "\n";
    return kExitInvalidInput;
  }

  boost::asio::io_context io;
  HttpClient http(io);
  Datasource datasource(io, http, compiled.config.datasource);
  const auto& ds = compiled.config.datasource;
  const Duration attempt_budget = ds.http.timeout * (ds.retries + 1) + std::chrono::seconds(5);

  const bool want_series = !options.html_path.empty();
  std::map<std::pair<std::size_t, std::uint64_t>, BacktestSeries> series;  // (rule, labels) -> points
  std::set<std::string> warnings;
  // Per chunk, one range query per rule for `expr` and, where the rule has one, one for
  // `keep_firing_expr`; `parts[q]` holds query q's answer for the current chunk.
  struct RangeQuery {
    std::size_t rule;
    bool keep_firing;
    const std::string* expr;
  };
  std::vector<RangeQuery> queries;
  bool any_keep_firing = false;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    queries.push_back({i, false, &rules[i]->query()});
    if (!rules[i]->keep_firing_query().empty()) {
      queries.push_back({i, true, &rules[i]->keep_firing_query()});
      any_keep_firing = true;
    }
  }
  std::vector<RangeOutcome> parts(queries.size());
  std::size_t chunk = 0;
  std::size_t query = 0;
  std::string failure;

  // Every query's part of a chunk is in: replay its slots.
  auto replay_chunk = [&](const QueryChunk& c) {
    std::vector<std::vector<std::pair<TimePoint, QueryOutcome>>> instants;
    for (std::size_t q = 0; q < queries.size(); ++q) {
      instants.push_back(range_to_instants(parts[q], c.start, c.end, step));
      for (const auto& w : parts[q].warnings) warnings.insert(w);
      if (!want_series || queries[q].keep_firing) continue;
      for (const auto& s : parts[q].series) {
        BacktestSeries& into = series[{queries[q].rule, s.labels.fingerprint()}];
        into.labels = s.labels;
        for (const auto& [t, v] : s.points) into.points.emplace_back(t + group.query_offset(), v);
      }
    }
    std::vector<QueryOutcome> outcomes(rules.size());
    std::vector<QueryOutcome> keep_firing(rules.size());
    for (std::size_t k = 0; k < instants.front().size(); ++k) {
      for (std::size_t q = 0; q < queries.size(); ++q) {
        (queries[q].keep_firing ? keep_firing : outcomes)[queries[q].rule] = std::move(instants[q][k].second);
      }
      backtest->evaluate(instants.front()[k].first + group.query_offset(), outcomes,
                         any_keep_firing ? &keep_firing : nullptr);
    }
  };
  std::function<void()> fetch_next = [&] {
    if (chunk >= chunks.size()) return;
    const QueryChunk& c = chunks[chunk];
    const std::string& expr = *queries[query].expr;
    datasource.query_range(expr, c.start, c.end, step, now() + attempt_budget, [&, c](RangeOutcome r) {
      if (!r.ok) {
        failure = "query_range of " + *queries[query].expr + " over [" + format_rfc3339(c.start) + ", " +
                  format_rfc3339(c.end) + "] step " + format_duration(step) + ": " + r.error;
        return;
      }
      parts[query] = std::move(r);
      if (++query == queries.size()) {
        query = 0;
        replay_chunk(c);
        ++chunk;
      }
      fetch_next();
    });
  };
  fetch_next();
  io.run();
  if (!failure.empty()) {
    err << "promwatch: backtest: " << failure << "\n";
    return kExitRuntimeFailure;
  }
  for (const auto& w : warnings) err << "promwatch: backtest: warning from the datasource: " << w << "\n";

  BacktestReport report = backtest->finish();
  if (options.json) {
    out << render_backtest_json(report) << "\n";
  } else {
    out << render_backtest_text(report);
  }
  if (want_series) {
    std::vector<BacktestSeries> lines;
    for (auto& [key, s] : series) lines.push_back(std::move(s));
    std::stable_sort(lines.begin(), lines.end(), [](const BacktestSeries& a, const BacktestSeries& b) {
      return a.labels.items() < b.labels.items();
    });
    std::ofstream page(options.html_path, std::ios::binary | std::ios::trunc);
    page << render_backtest_html(report, lines);
    page.close();
    if (!page) {
      err << "promwatch: backtest: cannot write " << options.html_path << "\n";
      return kExitRuntimeFailure;
    }
    if (!options.json) out << "\nwrote " << options.html_path << "\n";
  }
  return kExitOk;
}

}  // namespace promwatch
