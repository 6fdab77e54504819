use super::*;

const ARTICLE: &str = "Prime Minister Shinzo Abe met his British counterpart David Cameron on Thursday and agreed \
to boost security cooperation. The talks in London lasted three hours and ended at 3pm. \
Japan will buy 20 British jets, which cost £1.5 billion, about 5 per cent of its defence budget. \
The 46-year-old prime minister said it was his third visit this year. \
\"We share the same values and the same interests,\" Mr Abe said. \
Separately, Angela Merkel will visit Paris on 4 March to discuss trade. \
The deal follows a 2012 agreement on defence equipment.";

fn spans(summary: &str) -> Vec<Span> {
    let check = super::check(ARTICLE, summary).expect("checked");
    check.spans().cloned().collect()
}

fn flagged(summary: &str) -> Vec<(SpanKind, String, bool)> {
    spans(summary).into_iter().map(|s| (s.kind, s.text, s.elsewhere_in_source)).collect()
}

#[test]
fn a_number_written_another_way_is_supported() {
    for summary in [
        "Japan will buy twenty British jets.",
        "Japan will buy 20 British jets for £1,500,000,000.",
        "Japan will buy British jets for £1.5bn.",
        "The jets cost 5% of the defence budget.",
        "The talks in London lasted 3 hours.",
        "The talks in London ended at 15:00.",
        "Abe, aged 46, said it was his 3rd visit this year.",
    ] {
        assert_eq!(flagged(summary), [], "{summary}");
    }
}

#[test]
fn a_changed_number_of_every_form_is_flagged() {
    let cases = [
        ("Japan will buy 21 British jets.", SpanKind::Number, "21"),
        ("Japan will buy British jets for £2.5 billion.", SpanKind::Money, "£2.5 billion"),
        ("The jets cost 7 per cent of the defence budget.", SpanKind::Percent, "7 per cent"),
        ("The talks in London ended at 4pm.", SpanKind::Time, "4pm"),
        ("The 47-year-old prime minister spoke.", SpanKind::Age, "47-year-old"),
        ("It was his fourth visit this year.", SpanKind::Ordinal, "fourth"),
        ("The talks in London lasted seven hours.", SpanKind::Quantity, "seven hours"),
    ];
    for (summary, kind, text) in cases {
        let found = flagged(summary);
        assert!(found.iter().any(|(k, t, elsewhere)| *k == kind && t == text && !elsewhere), "{summary}: {found:?}");
    }
}

#[test]
fn an_invented_date_is_flagged() {
    let found = flagged("Shinzo Abe met David Cameron on Friday.");
    assert_eq!(found, [(SpanKind::Date, "Friday".to_string(), false)]);
    let found = flagged("The deal follows a 2014 agreement on defence equipment.");
    assert_eq!(found, [(SpanKind::Date, "2014".to_string(), false)]);
    // A date of the article used for another fact is out of place, not invented.
    let found = flagged("Shinzo Abe met David Cameron in London on 4 March.");
    assert!(found.iter().all(|(kind, _, elsewhere)| *kind == SpanKind::Date && *elsewhere), "{found:?}");
    assert!(!found.is_empty());
}

#[test]
fn a_swapped_or_invented_name_is_flagged() {
    // Merkel is in the article, but nowhere near the talks with Abe.
    let found = flagged("Shinzo Abe agreed with Angela Merkel to boost security cooperation.");
    assert!(found.contains(&(SpanKind::Name, "Angela Merkel".to_string(), true)), "{found:?}");
    assert!(found.iter().all(|(kind, _, _)| *kind == SpanKind::Name), "{found:?}");
    let found = flagged("Shinzo Abe agreed with Barack Obama to boost security cooperation.");
    assert_eq!(found, [(SpanKind::Name, "Barack Obama".to_string(), false)]);
    // Both names are in the article, never together.
    let found = flagged("David Abe agreed to boost security cooperation.");
    assert!(found.contains(&(SpanKind::Name, "David Abe".to_string(), false)), "{found:?}");
}

#[test]
fn quotations_must_be_in_the_article_word_for_word() {
    assert_eq!(flagged("Mr Abe said: \"We share the same values.\""), []);
    let found = flagged("Mr Abe said: \"We share the same interests and values.\"");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, SpanKind::Quote);
    assert!(found[0].1.starts_with("We share"));
}

#[test]
fn content_words_not_in_the_article_are_flagged_as_one_phrase() {
    let spans = spans("The talks in London ended with a lavish banquet.");
    assert_eq!(spans.len(), 1, "{spans:?}");
    assert_eq!((spans[0].kind, spans[0].text.as_str()), (SpanKind::Word, "lavish banquet"));
    assert_eq!(spans[0].weight, 2.0 * DEFAULT_WEIGHTS.word);
    assert_eq!(spans[0].reason, "the source never uses this word");
}

#[test]
fn a_lowercased_summary_still_has_names_and_sentences() {
    let check = super::check(ARTICLE, "shinzo abe met david cameron in london. japan will buy 20 british jets.").expect("checked");
    assert_eq!(check.sentences.len(), 2);
    assert_eq!(check.spans().count(), 0, "{:?}", check.spans().collect::<Vec<_>>());
    // An unknown word beside a known name is taken as part of the name.
    let found = flagged("shinzo abe met tony cameron in london.");
    assert_eq!(found, [(SpanKind::Name, "tony".to_string(), false)]);
}

#[test]
fn a_summary_identical_to_the_article_scores_one() {
    let article = crate::text::test_inputs::seed_article();
    let check = super::check(&article, &article).expect("checked");
    assert_eq!(check.score, 1.0);
    assert!(check.sentences.iter().all(|s| s.pieces == 1 && s.unsupported.is_empty()));
    let copied = super::check(ARTICLE, ARTICLE).expect("checked");
    assert_eq!(copied.score, 1.0);
}

#[test]
fn scores_fall_with_what_is_flagged_and_stay_in_range() {
    let clean = check(ARTICLE, "Japan will buy 20 British jets.").expect("checked").score;
    let one = check(ARTICLE, "Japan will buy 21 British jets.").expect("checked").score;
    let two = check(ARTICLE, "Germany will buy 21 British jets.").expect("checked").score;
    assert_eq!(clean, 1.0);
    assert!(clean > one && one > two && two > 0.0, "{clean} {one} {two}");
}

#[test]
fn offsets_are_characters_into_the_summary() {
    let summary = "Café talk: Shinzo Abe met Tony Blair in London.";
    let check = super::check(ARTICLE, summary).expect("checked");
    let chars: Vec<char> = summary.chars().collect();
    for span in check.spans() {
        let text: String = chars[span.start..span.end].iter().collect();
        assert_eq!(text, span.text);
    }
    assert!(check.spans().any(|s| s.text == "Tony Blair"));
    assert_eq!(check.sentences[0].start, 0);
    assert_eq!(check.sentences[0].end, chars.len());
}

#[test]
fn empty_inputs_are_errors() {
    assert_eq!(check(ARTICLE, "").unwrap_err(), CheckError::EmptySummary);
    assert_eq!(check(ARTICLE, "  \n ").unwrap_err(), CheckError::EmptySummary);
    assert_eq!(check("", "Something.").unwrap_err(), CheckError::EmptySource);
}

#[test]
fn alignment_points_at_the_supporting_sentence() {
    let check = super::check(ARTICLE, "Merkel will discuss trade in Paris.").expect("checked");
    assert_eq!(check.sentences[0].support.first(), Some(&5));
}

#[test]
fn any_text_is_checked_without_panicking() {
    let source = Source::new(ARTICLE).expect("source");
    for text in crate::text::test_inputs::tricky_strings(500) {
        if let Ok(check) = source.check(&text) {
            assert!((0.0..=1.0).contains(&check.score), "{text:?}");
            let chars = text.chars().count();
            assert!(check.spans().all(|s| s.start < s.end && s.end <= chars), "{text:?}");
        }
        let _ = Source::new(&text).map(|s| s.check(ARTICLE));
    }
}

/// One sentence far longer than a token window (no full stop in 60,000 tokens), with numbers
/// across every window boundary: the windowed indexing finds the same number keys and words as
/// all the sentence's tokens read at once.
#[test]
fn a_huge_sentence_is_indexed_as_if_read_whole() {
    let phrase = "on 5 March 2015 it cost £5 million , 3.5 % of fifty - five thousand people said Abe at 10.30 pm ";
    let text = phrase.repeat(3000);
    let source = Source::new(&text).expect("source");
    assert_eq!(source.sentence_count(), 1, "one sentence");
    let tokens = tokenize(&text);
    assert!(tokens.len() > 10 * TOKEN_WINDOW, "{} tokens", tokens.len());
    let mut expected: Vec<NumberKey> = find_numbers(&tokens, false).into_iter().flat_map(|mention| mention.keys).collect();
    expected.sort_by_key(|key| format!("{key:?}"));
    expected.dedup();
    let mut found: Vec<NumberKey> = source.numbers.keys().copied().collect();
    found.sort_by_key(|key| format!("{key:?}"));
    assert_eq!(found, expected);
    let words = tokens.iter().filter(|t| t.shape != tokens::TokenShape::Symbol).count();
    assert_eq!(source.sequence.len(), words, "every word once");
    assert!(source.names.contains("abe"));
}
