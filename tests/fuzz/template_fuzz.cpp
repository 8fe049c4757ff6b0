// libFuzzer target for the template engine: compile arbitrary text; when it compiles, render
// it against sample alert data and sample notification data. Rendering must never crash,
// hang or grow without bound (output, recursion and step limits).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "promwatch/template.hpp"

using namespace promwatch;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  static const TemplateLibrary library = [] {
    TemplateLibrary lib;
    TemplateError err;
    lib.add("lib.tmpl", "{{ define \"lib.title\" }}[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}{{ end }}",
            &err);
    return lib;
  }();
  TemplateError error;
  auto tmpl = Template::compile("__alert_Fuzz", text, &error, &library);
  if (!tmpl) return 0;

  static const Labels labels{{"__name__", "up"}, {"instance", "host:9100"}, {"job", "node"}};
  static const Labels external{{"cluster", "prod"}};
  (void)tmpl->render_alert(AlertTemplateData{labels, 1234.5678, external, "http://pw:9097"});
  if (tmpl->uses_query()) {
    // The daemon's passes: a probe records the expressions, then they are answered (every
    // other one with an error) and the template rendered again with the answers.
    TemplateQueryAnswers answers;
    std::vector<std::string> wanted;
    AlertTemplateData probe{labels, 1234.5678, external, "http://pw:9097"};
    probe.queries = &answers;
    probe.unanswered = &wanted;
    for (int round = 0; round < 3; ++round) {
      wanted.clear();
      (void)tmpl->render_alert(probe);
      for (std::size_t k = 0; k < wanted.size() && k < 16; ++k) {
        if (k % 2) answers[wanted[k]] = TemplateQueryAnswer{false, {}, "1:1: parse error: fuzz"};
        else answers[wanted[k]] = TemplateQueryAnswer{true, {Sample{labels, 1}, Sample{Labels{{"a", "b"}}, 2}}, {}};
      }
    }
    AlertTemplateData final_pass{labels, 1234.5678, external, "http://pw:9097"};
    final_pass.queries = &answers;
    (void)tmpl->render_alert(final_pass);
  }

  static const NotificationTemplateData notification = [] {
    NotificationTemplateData d;
    d.status = "firing";
    d.receiver = "ops";
    d.group_labels = Labels{{"alertname", "Down"}};
    d.common_labels = Labels{{"alertname", "Down"}, {"job", "node"}};
    d.common_annotations = Labels{{"summary", "down"}};
    d.external_url = "http://pw:9097";
    NotificationAlert a;
    a.status = "firing";
    a.labels = Labels{{"alertname", "Down"}, {"instance", "a:9100"}};
    a.annotations = Labels{{"summary", "a is down"}};
    a.starts_at = TimePoint{std::chrono::milliseconds{1700000000123}};
    a.fingerprint = "0123456789abcdef";
    NotificationAlert b = a;
    b.status = "resolved";
    b.ends_at = TimePoint{std::chrono::milliseconds{1700000600000}};
    d.alerts = {a, b};
    return d;
  }();
  (void)tmpl->render_notification(notification);
  return 0;
}
