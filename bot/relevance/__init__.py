"""Relevance: how a paper is scored against a profile.

- `tfidf`      the analyzer and TF-IDF vectors from incrementally kept document frequencies
- `corpus`     document frequencies and cached example papers in the state file
- `reference`  the reference set R: the recent papers' vectors, stored on arrival and read back
- `scoring`    profile vectors, percentile scores, thresholds, exclusions, followed authors
- `reasons`    which shared terms may be shown as reasons
- `examples`   profiles' example papers: from the store, else once from the arXiv API
- `library`    examples from the user's library: a BibTeX file, a Zotero library
- `votes`      readers' votes (+1 / -1 per person, paper and profile) in the state file
- `feedback`   votes from the command line (`digestbot feedback`), and the export format
- `learned_yaml` net votes as a profile's `papers:` / `not_like:` lines (`profile learned`)
"""
