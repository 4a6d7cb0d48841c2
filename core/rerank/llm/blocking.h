#pragma once

#include "rerank/llmtypes.h"

namespace recwb::rerank {

class LlmClient;

// FOR CLI CODE ONLY. Sends one request and runs a local QEventLoop until it finishes.
// A nested event loop re-enters the caller's event processing, so this must never be
// used from the GUI thread or from inside a slot of a running application: there it
// warns and returns Refused. A QCoreApplication must exist.
ChatResponse sendBlocking(LlmClient& client, const EndpointProfile& profile, const ChatRequest& request);

} // namespace recwb::rerank
