// The table of receiver types: one row per type, in the order messages and docs list them.
// The config loader reads each receiver's own keys through its row, make_receiver builds it.

#include "receiver_types.hpp"

#include <algorithm>

namespace promwatch {

const std::vector<ReceiverTypeSpec>& receiver_types() {
  static const std::vector<ReceiverTypeSpec> types = {
      webhook_receiver_type(),        chat::slack_receiver_type(),   chat::dingtalk_receiver_type(),
      chat::feishu_receiver_type(),   chat::wecom_receiver_type(),   chat::discord_receiver_type(),
      chat::teams_receiver_type(),    chat::telegram_receiver_type(), chat::email_receiver_type(),
      chat::pagerduty_receiver_type(), chat::opsgenie_receiver_type(), chat::pushover_receiver_type(),
      chat::mattermost_receiver_type(), chat::rocketchat_receiver_type(), chat::webex_receiver_type(),
      chat::msteamsv2_receiver_type(),
  };
  return types;
}

const ReceiverTypeSpec* find_receiver_type(std::string_view name) {
  const auto& types = receiver_types();
  auto it = std::find_if(types.begin(), types.end(), [&](const ReceiverTypeSpec& t) { return t.name == name; });
  return it == types.end() ? nullptr : &*it;
}

}  // namespace promwatch
