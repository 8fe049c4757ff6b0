#pragma once
// Private to daemon/notify: the row of each receiver type, one function per type, each defined
// in that type's own file (webhook in delivery.cpp, the chat platforms in chat_<name>.cpp, email, pagerduty, opsgenie, pushover and webex in <name>.cpp;
// msteamsv2 beside teams in chat_teams.cpp).
// Adding a type: write its file with a `<name>_receiver_type()`, declare it here and list it
// in receiver_types.cpp.

#include "promwatch/config.hpp"
#include "promwatch/delivery.hpp"

namespace promwatch {

ReceiverTypeSpec webhook_receiver_type();

namespace chat {
ReceiverTypeSpec slack_receiver_type();
ReceiverTypeSpec dingtalk_receiver_type();
ReceiverTypeSpec feishu_receiver_type();
ReceiverTypeSpec wecom_receiver_type();
ReceiverTypeSpec discord_receiver_type();
ReceiverTypeSpec teams_receiver_type();
ReceiverTypeSpec telegram_receiver_type();
ReceiverTypeSpec email_receiver_type();
ReceiverTypeSpec pagerduty_receiver_type();
ReceiverTypeSpec opsgenie_receiver_type();
ReceiverTypeSpec pushover_receiver_type();
ReceiverTypeSpec mattermost_receiver_type();
ReceiverTypeSpec rocketchat_receiver_type();
ReceiverTypeSpec webex_receiver_type();
ReceiverTypeSpec msteamsv2_receiver_type();
}  // namespace chat

}  // namespace promwatch
