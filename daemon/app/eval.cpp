// `promwatch eval`: evaluate rules once, as the daemon would at time t, and print what would be
// pending or firing. A rule with `for` is judged from a range query over [t - for, t] at the
// group interval, replayed through the same state machine the daemon uses.

#include <boost/asio/io_context.hpp>
#include <ostream>
#include <sstream>

#include "promwatch/app.hpp"
#include "promwatch/datasource.hpp"
#include "promwatch/http_client.hpp"

namespace promwatch {

namespace {

void print_alerts(std::ostream& out, const std::vector<Alert>& alerts) {
  bool any = false;
  for (const auto& a : alerts) {
    if (a.state == AlertState::Inactive) continue;  // resolved alerts are kept only for notifying
    any = true;
    out << "  " << to_string(a.state) << " " << a.labels.to_string() << " value=" << format_go_value(a.value)
        << " activeAt=" << format_rfc3339(a.active_at) << "\n";
    for (const auto& annotation : a.annotations) out << "    " << annotation.name << ": " << annotation.value << "\n";
  }
  if (!any) out << "  no pending or firing alerts\n";
}

}  // namespace

int run_eval(const EvalOptions& options, std::ostream& out) {
  CompileResult result = compile_config(options.config_path);
  if (!result.compiled) {
    for (const auto& e : result.errors) out << e.to_string() << "\n";
    return kExitInvalidInput;
  }
  CompiledConfig& compiled = *result.compiled;
  TimePoint at = options.at.value_or(now());

  struct Job {
    RuleGroup* group;
    AlertingRule* rule;
    std::string report;
    bool ok = false;
  };
  std::vector<Job> jobs;
  struct RecordingJob {
    RuleGroup* group;
    RecordingRule* rule;
    std::string report;
    bool ok = false;
  };
  std::vector<RecordingJob> recording_jobs;
  for (auto& group : compiled.groups) {
    if (!options.group.empty() && group.name() != options.group) continue;
    for (auto& rule : group.rules()) {
      if (!options.rule.empty() && rule.name() != options.rule) continue;
      jobs.push_back(Job{&group, &rule, {}, false});
    }
    for (auto& rule : group.recording_rules()) {
      if (!options.rule.empty() && rule.name() != options.rule) continue;
      recording_jobs.push_back(RecordingJob{&group, &rule, {}, false});
    }
  }
  if (jobs.empty() && recording_jobs.empty()) {
    out << "no rule matches";
    if (!options.group.empty()) out << " group \"" << options.group << "\"";
    if (!options.rule.empty()) out << " rule \"" << options.rule << "\"";
    out << "\n";
    return kExitInvalidInput;
  }

  boost::asio::io_context io;
  HttpClient http(io);
  Datasource datasource(io, http, compiled.config.datasource);
  TimePoint deadline = now() + compiled.config.datasource.http.timeout * (compiled.config.datasource.retries + 1) +
                       std::chrono::seconds(5);
  // Templates that call `query` get their answers first, from the same datasource at the same
  // time, as the daemon gives them; `then` runs with them (null when the rule needs none).
  auto with_template_answers = [&datasource, deadline](const AlertingRule& rule, std::shared_ptr<const QueryOutcome> outcome,
                                                       TimePoint query_time,
                                                       std::function<void(const TemplateQueryAnswers*)> then) {
    if (!rule.uses_template_queries()) {
      then(nullptr);
      return;
    }
    resolve_template_queries(
        [&rule, outcome](const TemplateQueryAnswers& answers) { return rule.template_queries(*outcome, answers); },
        [&datasource, query_time, deadline](const std::string& expr, std::function<void(QueryOutcome)> done) {
          datasource.query(expr, query_time, deadline, std::move(done));
        },
        [then = std::move(then)](TemplateQueryAnswers answers) { then(&answers); });
  };
  for (auto& job : jobs) {
    const AlertRuleConfig& config = job.rule->config();
    TimePoint query_time = job.group->query_time(at);
    std::string header = job.group->name() + "/" + job.rule->name() + " at " + format_rfc3339(at) + ": " + config.expr;
    if (config.for_duration > Duration{0}) {
      // The daemon's evaluations would have fallen on the group interval ending at `at`.
      Duration step = job.group->interval();
      TimePoint start = query_time - config.for_duration;
      datasource.query_range(config.expr, start, query_time, step, deadline, [&job, header, start, query_time, step,
                                                                              &with_template_answers](RangeOutcome range) {
        job.report = header + "\n";
        if (!range.ok) {
          job.report += "  query failed: " + range.error + "\n";
          return;
        }
        job.ok = true;
        job.report += "  range [" + format_rfc3339(start) + ", " + format_rfc3339(query_time) + "] step " +
                      format_duration(step) + ": " + std::to_string(range.series.size()) + " series\n";
        auto steps = std::make_shared<std::vector<std::pair<TimePoint, QueryOutcome>>>(
            range_to_instants(range, start, query_time, step));
        // The annotations shown are the last step's: its templates' queries run at that time.
        auto last = steps->empty() ? std::make_shared<const QueryOutcome>()
                                   : std::shared_ptr<const QueryOutcome>(steps, &steps->back().second);
        with_template_answers(*job.rule, last, query_time, [&job, steps](const TemplateQueryAnswers* answers) {
          ReplayResult replayed = replay(*job.rule, *steps, answers);
          std::ostringstream alerts;
          print_alerts(alerts, replayed.alerts);
          job.report += alerts.str();
        });
      });
    } else {
      datasource.query(config.expr, query_time, deadline, [&job, header, at, query_time,
                                                            &with_template_answers](QueryOutcome received) {
        auto shared = std::make_shared<const QueryOutcome>(std::move(received));
        const QueryOutcome& outcome = *shared;
        job.report = header + "\n";
        if (!outcome.ok) {
          job.report += "  query failed: " + outcome.error + "\n";
          return;
        }
        job.ok = true;
        job.report += "  " + std::to_string(outcome.result.samples.size()) + " samples\n";
        for (const auto& s : outcome.result.samples) {
          job.report += "    " + s.labels.to_string() + " " + format_go_value(s.value) + "\n";
        }
        for (const auto& w : outcome.result.warnings) job.report += "  warning: " + w + "\n";
        with_template_answers(*job.rule, shared, query_time, [&job, shared, at](const TemplateQueryAnswers* answers) {
          AlertingRule rule = *job.rule;
          EvaluationResult evaluated = rule.evaluate(*shared, at, false, answers);
          if (!evaluated.ok) {
            job.ok = false;
            job.report += "  evaluation failed: " + evaluated.error + "\n";
            return;
          }
          std::ostringstream alerts;
          print_alerts(alerts, rule.export_alerts());
          job.report += alerts.str();
        });
      });
    }
  }
  // A recording rule: the samples it would write at `at` (its query time is the timestamp).
  for (auto& job : recording_jobs) {
    const TimePoint query_time = job.group->query_time(at);
    job.report = job.group->name() + "/" + job.rule->name() + " (recording) at " + format_rfc3339(at) + ": " +
                 job.rule->query() + "\n";
    datasource.query(job.rule->query(), query_time, deadline, [&job, at, query_time](QueryOutcome outcome) {
      RecordingRule rule = *job.rule;
      EvaluationResult evaluated = rule.evaluate(outcome, at);
      if (!evaluated.ok) {
        job.report += "  " + std::string(outcome.ok ? "evaluation" : "query") + " failed: " + evaluated.error + "\n";
        return;
      }
      job.ok = true;
      std::vector<WriteSample> samples = rule.take_samples();
      job.report += "  would write " + std::to_string(samples.size()) + " samples at " + format_rfc3339(query_time) + "\n";
      for (const auto& s : samples) job.report += "    " + s.labels.to_string() + " " + format_go_value(s.value) + "\n";
      for (const auto& w : outcome.result.warnings) job.report += "  warning: " + w + "\n";
    });
  }
  io.run();
  bool all_ok = true;
  for (const auto& job : jobs) {
    out << job.report;
    all_ok = all_ok && job.ok;
  }
  for (const auto& job : recording_jobs) {
    out << job.report;
    all_ok = all_ok && job.ok;
  }
  return all_ok ? kExitOk : kExitRuntimeFailure;
}

}  // namespace promwatch
