// LongBench-style evaluation: loaders, task table, scoring and the runner.
#include "skvq/longbench.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "skvq/cache_factory.h"
#include "skvq/calibration.h"
#include "skvq/error.h"
#include "skvq/generate.h"
#include "skvq/kv_cache.h"
#include "skvq/model.h"
#include "skvq/run_session.h"
#include "skvq/run_store.h"
#include "skvq/text_metrics.h"
#include "skvq/tokenizer.h"

namespace skvq {
namespace fs = std::filesystem;
namespace {

// Same table as resources/longbench_tasks.json (a test keeps the two equal).
const char* kBuiltinTasks = R"JSON({
  "narrativeqa": {"prompt": "You are given a story, which can be either a novel or a movie script, and a question. Answer the question asconcisely as you can, using a single phrase if possible. Do not provide any explanation.\n\nStory: {context}\n\nNow, answer the question based on the story asconcisely as you can, using a single phrase if possible. Do not provide any explanation.\n\nQuestion: {input}\n\nAnswer:", "max_new_tokens": 128, "metric": "qa_f1"},
  "qasper": {"prompt": "You are given a scientific article and a question. Answer the question as concisely as you can, using a single phrase or sentence if possible. If the question cannot be answered based on the information in the article, write \"unanswerable\". If the question is a yes/no question, answer \"yes\", \"no\", or \"unanswerable\". Do not provide any explanation.\n\nArticle: {context}\n\n Answer the question based on the above article as concisely as you can, using a single phrase or sentence if possible. If the question cannot be answered based on the information in the article, write \"unanswerable\". If the question is a yes/no question, answer \"yes\", \"no\", or \"unanswerable\". Do not provide any explanation.\n\nQuestion: {input}\n\nAnswer:", "max_new_tokens": 128, "metric": "qa_f1"},
  "multifieldqa_en": {"prompt": "Read the following text and answer briefly.\n\n{context}\n\nNow, answer the following question based on the above text, only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:", "max_new_tokens": 64, "metric": "qa_f1"},
  "hotpotqa": {"prompt": "Answer the question based on the given passages. Only give me the answer and do not output any other words.\n\nThe following are given passages.\n{context}\n\nAnswer the question based on the given passages. Only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:", "max_new_tokens": 32, "metric": "qa_f1"},
  "2wikimqa": {"prompt": "Answer the question based on the given passages. Only give me the answer and do not output any other words.\n\nThe following are given passages.\n{context}\n\nAnswer the question based on the given passages. Only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:", "max_new_tokens": 32, "metric": "qa_f1"},
  "musique": {"prompt": "Answer the question based on the given passages. Only give me the answer and do not output any other words.\n\nThe following are given passages.\n{context}\n\nAnswer the question based on the given passages. Only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:", "max_new_tokens": 32, "metric": "qa_f1"},
  "gov_report": {"prompt": "You are given a report by a government agency. Write a one-page summary of the report.\n\nReport:\n{context}\n\nNow, write a one-page summary of the report.\n\nSummary:", "max_new_tokens": 512, "metric": "rouge_l"},
  "qmsum": {"prompt": "You are given a meeting transcript and a query containing a question or instruction. Answer the query in one or more sentences.\n\nTranscript:\n{context}\n\nNow, answer the query based on the above meeting transcript in one or more sentences.\n\nQuery: {input}\nAnswer:", "max_new_tokens": 512, "metric": "rouge_l"},
  "multi_news": {"prompt": "You are given several news passages. Write a one-page summary of all news. \n\nNews:\n{context}\n\nNow, write a one-page summary of all the news.\n\nSummary:", "max_new_tokens": 512, "metric": "rouge_l"},
  "trec": {"prompt": "Please determine the type of the question below. Here are some examples of questions.\n\n{context}\n{input}", "max_new_tokens": 64, "metric": "classification", "first_line": true},
  "triviaqa": {"prompt": "Answer the question based on the given passage. Only give me the answer and do not output any other words. The following are some examples.\n\n{context}\n\n{input}", "max_new_tokens": 32, "metric": "qa_f1", "first_line": true},
  "samsum": {"prompt": "Summarize the dialogue into a few short sentences. The following are some examples.\n\n{context}\n\n{input}", "max_new_tokens": 128, "metric": "rouge_l", "first_line": true},
  "passage_count": {"prompt": "There are some paragraphs below sourced from Wikipedia. Some of them may be duplicates. Please carefully read these paragraphs and determine how many unique paragraphs there are after removing duplicates. In other words, how many non-repeating paragraphs are there in total?\n\n{context}\n\nPlease enter the final count of unique paragraphs after removing duplicates. The output format should only contain the number, such as 1, 2, 3, and so on.\n\nThe final answer is: ", "max_new_tokens": 32, "metric": "count"},
  "passage_retrieval_en": {"prompt": "Here are 30 paragraphs from Wikipedia, along with an abstract. Please determine which paragraph the abstract is from.\n\n{context}\n\nThe following is an abstract.\n\n{input}\n\nPlease enter the number of the paragraph that the abstract is from. The answer format must be like \"Paragraph 1\", \"Paragraph 2\", etc.\n\nThe answer is: ", "max_new_tokens": 32, "metric": "retrieval"},
  "lcc": {"prompt": "Please complete the code given below. \n{context}Next line of code:\n", "max_new_tokens": 64, "metric": "code_sim"},
  "repobench-p": {"prompt": "Please complete the code given below. \n{context}{input}Next line of code:\n", "max_new_tokens": 64, "metric": "code_sim"},
  "scientific_qa": {"prompt": "Now you are given a very long document. Please follow the instruction after this document. These instructions may include summarizing a document, answering questions based on the document, or writing a required paragraph.\n\nDocument is as follows. {context}\nQuestion: {input}\nAnswer:", "max_new_tokens": 64, "metric": "qa_f1"},
  "multidoc_qa": {"prompt": "Now you are given a very long document. Please follow the instruction after this document. These instructions may include summarizing a document, answering questions based on the document, or writing a required paragraph.\n\nDocument is as follows. {context}\nQuestion: {input}\nAnswer:", "max_new_tokens": 64, "metric": "qa_f1"},
  "topic_retrieval_longchat": {"prompt": "Below is a record of our previous conversation on many different topics. You are the ASSISTANT, and I am the USER. At the beginning of each topic, the USER will say 'I would like to discuss the topic of <TOPIC>'. Memorize each <TOPIC>. At the end of the record, I will ask you to retrieve the first/second/third topic names. Now the record start.\n\n{context}\n\nNow the record is over. {input}\nAnswer:", "max_new_tokens": 32, "metric": "contains"}
}
)JSON";

const std::set<std::string>& known_metrics() {
  static const std::set<std::string> m{"qa_f1",     "rouge_l", "rouge_1",  "classification",
                                       "retrieval", "count",   "code_sim", "contains"};
  return m;
}

std::string line_where(const std::string& path, int64_t line) {
  return "line " + std::to_string(line);
}

std::string get_string(const nlohmann::json& j, const char* key, const std::string& path,
                       int64_t line) {
  auto it = j.find(key);
  if (it == j.end()) throw FileError(path, line_where(path, line) + ": missing field \"" + key + "\"");
  if (!it->is_string())
    throw FileError(path, line_where(path, line) + ": field \"" + key + "\" is not a string");
  return it->get<std::string>();
}

std::vector<std::string> get_strings(const nlohmann::json& j, const char* key,
                                     const std::string& path, int64_t line, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required)
      throw FileError(path, line_where(path, line) + ": missing field \"" + key + "\"");
    return {};
  }
  if (!it->is_array())
    throw FileError(path, line_where(path, line) + ": field \"" + key + "\" is not an array");
  std::vector<std::string> out;
  for (const auto& v : *it) {
    if (!v.is_string())
      throw FileError(path, line_where(path, line) + ": field \"" + key +
                                "\" holds a non-string element");
    out.push_back(v.get<std::string>());
  }
  return out;
}

bool blank(const std::string& s) {
  return s.find_first_not_of(" \t\r\n") == std::string::npos;
}

// Calls fn(json, line) for each non-blank line; counts blank lines.
template <typename Fn>
int64_t for_each_record(const std::string& path, Fn fn) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw FileError(path, "no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "cannot be read");
  std::string text;
  int64_t line = 0, skipped = 0;
  while (std::getline(in, text)) {
    ++line;
    if (blank(text)) {
      ++skipped;
      continue;
    }
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      throw FileError(path, "line " + std::to_string(line) + ": invalid JSON (" + e.what() + ")");
    }
    if (!j.is_object()) throw FileError(path, "line " + std::to_string(line) + ": not a JSON object");
    fn(j, line);
  }
  return skipped;
}

std::string stem(const std::string& path) { return fs::path(path).stem().string(); }

}  // namespace

EvalSamples load_longbench_jsonl(const std::string& path) {
  EvalSamples out;
  std::map<std::string, int64_t> idx;
  out.skipped_empty_lines = for_each_record(path, [&](const nlohmann::json& j, int64_t line) {
    EvalSample s;
    s.input = get_string(j, "input", path, line);
    s.context = get_string(j, "context", path, line);
    s.answers = get_strings(j, "answers", path, line, true);
    s.all_classes = get_strings(j, "all_classes", path, line, false);
    if (auto it = j.find("length"); it != j.end() && it->is_number_integer()) s.length = it->get<int64_t>();
    s.task = stem(path);
    if (auto it = j.find("dataset"); it != j.end() && it->is_string()) s.task = it->get<std::string>();
    s.index = idx[s.task]++;
    s.source = path;
    s.line = line;
    out.samples.push_back(std::move(s));
  });
  return out;
}

EvalSamples load_leval_jsonl(const std::string& path) {
  EvalSamples out;
  const std::string task = stem(path);
  int64_t idx = 0;
  out.skipped_empty_lines = for_each_record(path, [&](const nlohmann::json& j, int64_t line) {
    std::string doc = get_string(j, "input", path, line);
    auto inst = get_strings(j, "instructions", path, line, true);
    auto outs = get_strings(j, "outputs", path, line, true);
    if (inst.size() != outs.size())
      throw FileError(path, "line " + std::to_string(line) + ": " + std::to_string(inst.size()) +
                                " instructions but " + std::to_string(outs.size()) + " outputs");
    for (size_t k = 0; k < inst.size(); ++k) {
      EvalSample s;
      s.task = task;
      s.index = idx++;
      s.input = inst[k];
      s.context = doc;
      s.answers = {outs[k]};
      s.source = path;
      s.line = line;
      out.samples.push_back(std::move(s));
    }
  });
  return out;
}

EvalSamples load_eval_jsonl(const std::string& path, std::map<std::string, int64_t>* offsets) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    throw FileError(path, fs::exists(path, ec) ? "cannot be read" : "no such file");
  }
  bool leval = false;
  std::string text;
  int64_t line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (blank(text)) continue;
    try {
      auto j = nlohmann::json::parse(text);
      leval = j.is_object() && j.contains("instructions");
    } catch (const nlohmann::json::parse_error& e) {
      throw FileError(path, "line " + std::to_string(line) + ": invalid JSON (" + e.what() + ")");
    }
    break;
  }
  EvalSamples out = leval ? load_leval_jsonl(path) : load_longbench_jsonl(path);
  if (offsets) {
    std::map<std::string, int64_t> added;
    for (auto& s : out.samples) {
      s.index += (*offsets)[s.task];
      ++added[s.task];
    }
    for (auto& [t, n] : added) (*offsets)[t] += n;
  }
  return out;
}

TaskTable parse_task_table(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw FileError(source, "task table must be a JSON object");
  TaskTable t;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const auto& v = it.value();
    const std::string where = "task \"" + it.key() + "\"";
    if (!v.is_object()) throw FileError(source, where + ": not an object");
    TaskSpec s;
    s.name = it.key();
    if (!v.contains("prompt") || !v["prompt"].is_string())
      throw FileError(source, where + ": missing string field \"prompt\"");
    s.prompt_template = v["prompt"].get<std::string>();
    if (!v.contains("max_new_tokens") || !v["max_new_tokens"].is_number_integer() ||
        v["max_new_tokens"].get<int64_t>() < 1)
      throw FileError(source, where + ": missing positive integer field \"max_new_tokens\"");
    s.max_new_tokens = v["max_new_tokens"].get<int64_t>();
    if (!v.contains("metric") || !v["metric"].is_string())
      throw FileError(source, where + ": missing string field \"metric\"");
    s.metric = v["metric"].get<std::string>();
    if (!known_metrics().count(s.metric))
      throw FileError(source, where + ": unknown metric \"" + s.metric +
                                  "\" (qa_f1, rouge_l, rouge_1, classification, retrieval, "
                                  "count, code_sim, contains)");
    if (v.contains("first_line")) {
      if (!v["first_line"].is_boolean()) throw FileError(source, where + ": first_line must be a boolean");
      s.first_line = v["first_line"].get<bool>();
    }
    t[s.name] = s;
  }
  return t;
}

TaskTable builtin_task_table() {
  return parse_task_table(nlohmann::json::parse(kBuiltinTasks), "<built-in task table>");
}

TaskTable load_task_table(const std::string& path) {
  std::string text = read_file(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw FileError(path, std::string("invalid JSON (") + e.what() + ")");
  }
  return parse_task_table(j, path);
}

nlohmann::json task_table_json(const TaskTable& t) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, s] : t) {
    j[name] = {{"prompt", s.prompt_template}, {"max_new_tokens", s.max_new_tokens}, {"metric", s.metric}};
    if (s.first_line) j[name]["first_line"] = true;
  }
  return j;
}

double score_answer(const std::string& metric, const std::string& prediction,
                    const std::string& reference, const std::vector<std::string>& all_classes) {
  if (metric == "qa_f1") return qa_f1(prediction, reference);
  if (metric == "rouge_l") return rougeL_f1(prediction, reference);
  if (metric == "rouge_1") return rouge1_f1(prediction, reference);
  if (metric == "classification") return classification_score(prediction, reference, all_classes);
  if (metric == "retrieval") return retrieval_score(prediction, reference);
  if (metric == "count") return count_score(prediction, reference);
  if (metric == "code_sim") return code_sim_score(prediction, reference);
  if (metric == "contains") return contains_normalized(prediction, reference) ? 1.0 : 0.0;
  throw ConfigError("unknown metric \"" + metric + "\"");
}

double score_sample(const TaskSpec& spec, const std::string& prediction, const EvalSample& s) {
  std::string pred = prediction;
  if (spec.first_line) {
    size_t b = pred.find_first_not_of('\n');
    pred = b == std::string::npos ? std::string() : pred.substr(b);
    pred = pred.substr(0, pred.find('\n'));
  }
  double best = 0;
  for (const auto& a : s.answers) best = std::max(best, score_answer(spec.metric, pred, a, s.all_classes));
  return best;
}

std::string fill_task_template(const std::string& tmpl, const EvalSample& s) {
  return fill_placeholders(tmpl, {{"{context}", s.context}, {"{input}", s.input}});
}

std::vector<int32_t> longbench_prompt_tokens(const Tokenizer& tok, ChatFamily chat, const TaskSpec& spec,
                                             const EvalSample& s, int64_t max_prompt, bool* truncated) {
  if (truncated) *truncated = false;
  const std::string& tmpl_text = tok.chat_template();
  const std::string user = fill_task_template(spec.prompt_template, s);
  auto prompt = tok.encode(apply_chat_template(chat, tmpl_text, "", user), true);
  if (static_cast<int64_t>(prompt.size()) <= max_prompt) return prompt;
  if (truncated) *truncated = true;
  if (chat == ChatFamily::None) return truncate_middle(prompt, max_prompt);
  // Cut the task prompt (not the chat template) to the room the template leaves, then wrap it.
  const int64_t overhead =
      static_cast<int64_t>(tok.encode(apply_chat_template(chat, tmpl_text, "", ""), true).size());
  const int64_t room = std::max<int64_t>(1, max_prompt - overhead);
  const std::string cut = tok.decode(truncate_middle(tok.encode(user, false), room));
  prompt = tok.encode(apply_chat_template(chat, tmpl_text, "", cut), true);
  // Text at the joins can tokenize a little longer; the limit is a hard one.
  if (static_cast<int64_t>(prompt.size()) > max_prompt) prompt = truncate_middle(prompt, max_prompt);
  return prompt;
}

std::vector<LongBenchSummary> run_longbench(
    const Model& model, const Tokenizer& tok, const std::vector<QuantConfig>& configs,
    const Calibration* calib, RunStore& store, int64_t model_id,
    std::optional<int64_t> calibration_id, const std::vector<EvalSample>& samples,
    const TaskTable& tasks, const std::string& data_path, const std::string& data_sha256,
    const LongBenchOptions& opt, ProgressFn progress, CancelFlag cancel) {
  const ModelConfig& mc = model.config();
  const int64_t limit = opt.max_prompt_tokens > 0 ? opt.max_prompt_tokens : mc.max_position_embeddings;

  // Samples kept (max_samples per task), tasks in first-seen order.
  std::vector<std::string> task_order;
  std::map<std::string, int64_t> per_task;
  std::vector<const EvalSample*> chosen;
  for (const auto& s : samples) {
    if (!tasks.count(s.task))
      throw ConfigError("longbench: task \"" + s.task + "\" (" + s.source +
                        ") is not in the task table; add it with --tasks-file");
    if (!per_task.count(s.task)) task_order.push_back(s.task);
    if (opt.max_samples > 0 && per_task[s.task] >= opt.max_samples) continue;
    ++per_task[s.task];
    chosen.push_back(&s);
  }
  for (const auto& t : task_order)
    if (limit <= tasks.at(t).max_new_tokens)
      throw ConfigError("longbench: prompt limit " + std::to_string(limit) +
                        " leaves no room for task " + t + "'s " +
                        std::to_string(tasks.at(t).max_new_tokens) + " answer tokens");

  TaskTable used;
  for (const auto& t : task_order) used[t] = tasks.at(t);
  const ChatFamily chat = parse_chat_template_option(opt.chat_template, tok.chat_template());
  nlohmann::json params = {{"tasks", task_order},
                           {"max_samples", opt.max_samples},
                           {"max_prompt_tokens", limit},
                           {"task_table_sha256", sha256_hex(task_table_json(used).dump())}};
  // Only when a template is applied, so runs stored before chat templates existed still resume.
  if (chat != ChatFamily::None) params["chat_template"] = chat_family_name(chat);
  if (opt.fake_quant) params["kv_storage"] = "fake-quant";  // absent = packed where supported

  std::vector<QuantConfig> order;
  std::set<std::string> seen;
  for (const auto& c : configs)
    if (seen.insert(c.to_string()).second) order.push_back(c);
  std::vector<KVLayouts> layouts;
  for (const auto& c : order) {
    c.validate_for(mc);
    layouts.push_back(KVLayouts::build(c, mc, calib));
  }

  const int64_t total = static_cast<int64_t>(chosen.size() * order.size());
  int64_t done = 0, truncated = 0;
  std::vector<LongBenchSummary> out;
  for (size_t ci = 0; ci < order.size(); ++ci) {
    const QuantConfig& cfg = order[ci];
    RunRecord ident;
    ident.kind = "longbench";
    ident.model_id = model_id;
    if (cfg.needs_calibration()) ident.calibration_id = calibration_id;
    ident.config = cfg.to_string();
    ident.data_path = data_path;
    ident.data_sha256 = data_sha256;
    ident.params = params;
    LongBenchSummary sum;
    sum.config = ident.config;
    RunSession session(store, ident, OnDone::Resume, /*wait=*/true, cancel);
    sum.run_id = session.id();
    session.guard([&] {
      std::set<std::string> stored;
      for (const auto& it : session.items()) stored.insert(it.key);
      for (const EvalSample* s : chosen) {
        throw_if_cancelled(cancel);
        const std::string key = s->task + "/" + std::to_string(s->index);
        if (stored.count(key)) {
          ++sum.skipped;
        } else {
          const TaskSpec& spec = tasks.at(s->task);
          bool cut = false;
          auto prompt = longbench_prompt_tokens(tok, chat, spec, *s, limit - spec.max_new_tokens, &cut);
          if (cut) ++truncated;
          // Packed storage where supported (as needle): decode steps attend over the packed bytes.
          auto cache_ptr = make_kv_cache(mc, cfg, layouts[ci], 1, /*full_prefill=*/true,
                                         /*packed=*/!opt.fake_quant && model.device().is_cpu());
          KVCache& cache = *cache_ptr;
          SamplingParams sp;
          sp.max_new_tokens = spec.max_new_tokens;
          sp.temperature = 0.0f;
          auto res = generate_tokens(model, tok, prompt, sp, cache, nullptr, cancel);
          const double score = score_sample(spec, res.text, *s);
          session.put_item(key, {{"task", s->task},
                                 {"index", s->index},
                                 {"prediction", res.text},
                                 {"answers", s->answers},
                                 {"score", score},
                                 {"metric", spec.metric},
                                 {"prompt_tokens", static_cast<int64_t>(prompt.size())}});
          ++sum.computed;
        }
        ++done;
        if (progress) progress(done, total);
      }
      // Metrics over the chosen samples.
      std::map<std::string, std::pair<double, int64_t>> acc;
      std::set<std::string> keys;
      for (const EvalSample* s : chosen) keys.insert(s->task + "/" + std::to_string(s->index));
      for (const auto& it : session.items()) {
        if (!keys.count(it.key)) continue;
        auto& a = acc[it.data.value("task", std::string())];
        a.first += it.data.value("score", 0.0);
        ++a.second;
      }
      nlohmann::json tj = nlohmann::json::object();
      double avg = 0;
      for (const auto& t : task_order) {
        auto& a = acc[t];
        double sc = a.second ? 100.0 * a.first / a.second : 0.0;
        tj[t] = {{"score", sc}, {"metric", tasks.at(t).metric}, {"samples", a.second}};
        avg += sc;
      }
      sum.metrics = {{"tasks", tj}, {"average", task_order.empty() ? 0.0 : avg / task_order.size()}};
      session.finish(sum.metrics, session.total_wall_seconds());
    });
    out.push_back(std::move(sum));
  }
  if (truncated > 0)
    std::fprintf(stderr, "skvq longbench: %lld prompts truncated in the middle to fit %lld tokens\n",
                 static_cast<long long>(truncated), static_cast<long long>(limit));
  return out;
}

}  // namespace skvq
