// Chat template families: detection from the template text and single-turn formatting.
#include "skvq/chat_template.h"

#include "skvq/error.h"

namespace skvq {
namespace {

bool contains(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

// A line break in template text: a real newline (JSON-decoded "\n") or the two characters
// backslash-n of a Jinja string literal. Returns its length at `pos`, 0 when there is none.
size_t newline_at(const std::string& s, size_t pos) {
  if (pos < s.size() && s[pos] == '\n') return 1;
  if (pos + 1 < s.size() && s[pos] == '\\' && s[pos + 1] == 'n') return 2;
  return 0;
}

// Jinja string-literal escapes of a literal piece of template text (\n, \t, \', \", \\).
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char c = s[++i];
      out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Literal text of the template after `marker` up to the first of `ends` (or a quote, which ends
// a Jinja string literal); "" when the marker is absent.
std::string literal_after(const std::string& tmpl, const std::string& marker) {
  size_t p = tmpl.find(marker);
  if (p == std::string::npos) return {};
  p += marker.size();
  std::string out;
  while (p < tmpl.size() && tmpl[p] != '"' && tmpl[p] != '\'' && !newline_at(tmpl, p)) out += tmpl[p++];
  return out;
}

// Llama-3.1-style system header: "Cutting Knowledge Date: ...\nToday Date: ...\n\n" written
// before the system message on every prompt; "" for templates without it.
std::string llama3_date_preamble(const std::string& tmpl) {
  const std::string knowledge = literal_after(tmpl, "Cutting Knowledge Date: ");
  if (knowledge.empty()) return {};
  // The template's fallback date_string (transformers' strftime_now would give today's date).
  std::string today = literal_after(tmpl, "date_string = \"");
  if (today.empty()) today = "26 Jul 2024";
  return "Cutting Knowledge Date: " + knowledge + "\nToday Date: " + today + "\n\n";
}

}  // namespace

std::string chat_family_name(ChatFamily family) {
  switch (family) {
    case ChatFamily::None: return "none";
    case ChatFamily::ChatML: return "chatml";
    case ChatFamily::Llama2: return "llama2";
    case ChatFamily::Llama3: return "llama3";
    case ChatFamily::Mistral: return "mistral";
  }
  return "none";
}

ChatFamily detect_chat_family(const std::string& t) {
  if (contains(t, "<|im_start|>")) return ChatFamily::ChatML;
  if (contains(t, "<|start_header_id|>")) return ChatFamily::Llama3;
  if (contains(t, "[INST]")) return contains(t, "<<SYS>>") ? ChatFamily::Llama2 : ChatFamily::Mistral;
  return ChatFamily::None;
}

ChatFamily parse_chat_template_option(const std::string& name, const std::string& template_text) {
  if (name == "auto") return detect_chat_family(template_text);
  for (ChatFamily f : {ChatFamily::None, ChatFamily::ChatML, ChatFamily::Llama2, ChatFamily::Llama3,
                       ChatFamily::Mistral})
    if (name == chat_family_name(f)) return f;
  throw ConfigError("chat template \"" + name + "\" is not one of auto, none, chatml, llama2, llama3, mistral");
}

std::string chat_default_system(ChatFamily family, const std::string& tmpl) {
  if (family != ChatFamily::ChatML) return {};
  const std::string marker = "<|im_start|>system";
  for (size_t p = tmpl.find(marker); p != std::string::npos; p = tmpl.find(marker, p + 1)) {
    size_t q = p + marker.size();
    const size_t nl = newline_at(tmpl, q);
    if (!nl) continue;
    q += nl;
    const size_t end = tmpl.find("<|im_end|>", q);
    if (end == std::string::npos) continue;
    const std::string text = tmpl.substr(q, end - q);
    // Only a literal default: an expression such as ' + message['content'] + ' is not one.
    if (text.empty() || text.find_first_of("'\"{}+") != std::string::npos) continue;
    return unescape(text);
  }
  return {};
}

std::string apply_chat_template(ChatFamily family, const std::string& tmpl, const std::string& system,
                                const std::string& user) {
  switch (family) {
    case ChatFamily::None:
      return system.empty() ? user : system + "\n\n" + user;
    case ChatFamily::ChatML: {
      const std::string sys = system.empty() ? chat_default_system(family, tmpl) : system;
      std::string out;
      if (!sys.empty()) out += "<|im_start|>system\n" + sys + "<|im_end|>\n";
      return out + "<|im_start|>user\n" + user + "<|im_end|>\n<|im_start|>assistant\n";
    }
    case ChatFamily::Llama2: {
      const std::string sys = trim(system);
      const std::string body = sys.empty() ? user : "<<SYS>>\n" + sys + "\n<</SYS>>\n\n" + user;
      return "[INST] " + trim(body) + " [/INST]";
    }
    case ChatFamily::Llama3: {
      auto turn = [](const char* role, const std::string& content) {
        return std::string("<|start_header_id|>") + role + "<|end_header_id|>\n\n" + content + "<|eot_id|>";
      };
      const std::string preamble = llama3_date_preamble(tmpl);
      std::string out;
      if (!preamble.empty() || !trim(system).empty()) out += turn("system", preamble + trim(system));
      return out + turn("user", trim(user)) + "<|start_header_id|>assistant<|end_header_id|>\n\n";
    }
    case ChatFamily::Mistral:
      return "[INST] " + (system.empty() ? user : system + "\n\n" + user) + " [/INST]";
  }
  return user;
}

}  // namespace skvq
