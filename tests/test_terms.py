import pytest

from projects.terms import TERMS, term, terms_for


@pytest.mark.parametrize(
    ("pov", "key", "expected"),
    [
        ("general_contractor", "prime_contracts", "Prime Contracts"),
        ("owner", "prime_contracts", "Funding"),
        ("specialty_contractor", "prime_contracts", "Client Contracts"),
        ("specialty_contractor", "invoicing", "Progress Billings"),
        ("specialty_contractor", "owner_client", "GC/Client"),
        ("owner", "subcontractor", "Contractor"),
        ("owner", "ssov", "Contractor Schedule of Values (CSOV)"),
    ],
)
def test_each_dictionary_uses_the_seed_pages_terms(pov: str, key: str, expected: str) -> None:
    assert term(pov, key) == expected


def test_every_term_has_all_three_dictionaries() -> None:
    for column in TERMS.values():
        assert set(column) == {"general_contractor", "owner", "specialty_contractor"}


def test_an_unknown_term_is_an_error_not_a_blank() -> None:
    with pytest.raises(KeyError, match="No point-of-view term"):
        term("owner", "prime_contractz")


def test_terms_for_a_company_follow_its_dictionary() -> None:
    from projects.models import Company

    company = Company(name="Owner Co", slug="owner-co", pov_dictionary="owner")
    assert terms_for(company)["prime_contract"] == "Funding"
