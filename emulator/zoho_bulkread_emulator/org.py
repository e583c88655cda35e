"""The synthetic Zoho org served by the emulator: modules, fields, users and custom views.

Everything here is static description; record values live in ``records.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Criteria categories of Zoho's "Allowed Comparators" table.
NUMBER_TYPES = frozenset(
    {"integer", "bigint", "double", "currency", "percent", "decimal", "rollup_summary"}
)
TEXT_TYPES = frozenset(
    {
        "text",
        "email",
        "phone",
        "website",
        "picklist",
        "multiselectpicklist",
        "autonumber",
        "formula",
    }
)
LOOKUP_TYPES = frozenset({"lookup", "ownerlookup", "userlookup"})
# Types bulk read cannot export: asked for by name they are refused.
NOT_EXPORTABLE_TYPES = frozenset({"multiselectlookup", "multiuserlookup", "subform"})
MULTI_LOOKUP_TYPES = frozenset({"multiselectlookup", "multiuserlookup"})

COMPARATORS_BY_CATEGORY: dict[str, frozenset[str]] = {
    "number": frozenset(
        {
            "equal",
            "not_equal",
            "in",
            "not_in",
            "less_than",
            "less_equal",
            "greater_than",
            "greater_equal",
        }
    ),
    "text": frozenset(
        {
            "equal",
            "not_equal",
            "in",
            "not_in",
            "contains",
            "not_contains",
            "starts_with",
            "ends_with",
        }
    ),
    "date": frozenset(
        {
            "equal",
            "not_equal",
            "in",
            "not_in",
            "between",
            "not_between",
            "greater_than",
            "greater_equal",
            "less_than",
            "less_equal",
        }
    ),
    "boolean": frozenset({"equal"}),
    "lookup": frozenset({"equal", "not_equal", "in", "not_in"}),
}


def criteria_category(data_type: str) -> str | None:
    """Return the comparator category of a field type, or None if it cannot be filtered."""
    if data_type in NUMBER_TYPES:
        return "number"
    if data_type in TEXT_TYPES:
        return "text"
    if data_type in ("date", "datetime"):
        return "date"
    if data_type == "boolean":
        return "boolean"
    if data_type in LOOKUP_TYPES:
        return "lookup"
    return None


JSON_TYPES = {
    "integer": "integer",
    "bigint": "string",
    "double": "double",
    "currency": "double",
    "percent": "double",
    "decimal": "double",
    "rollup_summary": "double",
    "boolean": "boolean",
    "multiselectpicklist": "jsonarray",
    "lookup": "jsonobject",
    "ownerlookup": "jsonobject",
    "userlookup": "jsonobject",
    "multiselectlookup": "jsonarray",
    "multiuserlookup": "jsonarray",
    "subform": "jsonarray",
    "fileupload": "jsonarray",
    "imageupload": "jsonarray",
    "event_reminder": "string",
}


# A formula's ``formula.return_type`` (Zoho's v8 fields metadata; the official v8 SDK's
# ``Formula`` model) -> the data type its values take.
FORMULA_VALUE_TYPES = {
    "double": "double",
    "currency": "currency",
    "decimal": "decimal",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
    "text": "text",
}


@dataclass(frozen=True)
class Field:
    """One field of a module, as the fields metadata call describes it."""

    api_name: str
    data_type: str
    lookup_module: str | None = None
    pick_list: tuple[str, ...] = ()
    decimal_place: int | None = None
    length: int = 255
    required: bool = False
    read_only: bool = False
    custom: bool = False
    json_type: str | None = None
    bulk_refused: bool = False  # like Zoho's composite and distance fields: FIELD_NOT_SUPPORTED
    return_type: str | None = None  # a formula's ``formula.return_type``
    filled: int | None = None  # percent of records with a value; None: all but a tenth

    @property
    def value_type(self) -> str:
        """The type of the values the field holds: a formula's return type, else its own."""
        if self.data_type != "formula":
            return self.data_type
        return FORMULA_VALUE_TYPES.get(self.return_type or "text", "text")

    def metadata(
        self, field_id: str, org: Org | None = None, product: str = "crm", owner: str = ""
    ) -> dict[str, object]:
        """Return this field of module ``owner`` as an entry of ``GET settings/fields``."""
        entry: dict[str, object] = {
            "id": field_id,
            "column_name": ("CUSTOMFIELD" if self.custom else "") + self.api_name.upper(),
            "created_source": "custom" if self.custom else "default",
            "field_read_only": self.read_only,
            "sortable": self.data_type not in ("textarea", "subform", "multiselectlookup"),
            "webhook": self.data_type not in ("subform", "multiselectlookup"),
            "type": "used",
            "operation_type": {
                "web_update": not self.read_only,
                "api_create": not self.read_only,
                "web_create": not self.read_only,
                "api_update": not self.read_only,
            },
            "associated_module": None,
            "subform": None,
            "multiselectlookup": {},
            "api_name": self.api_name,
            "field_label": self.api_name.replace("_", " "),
            "display_label": self.api_name.replace("_", " "),
            "data_type": self.data_type,
            "json_type": self.json_type or JSON_TYPES.get(self.data_type, "string"),
            "length": self.length,
            "decimal_place": self.decimal_place,
            "formula": (
                {"return_type": self.return_type or "text", "expression": "emulated"}
                if self.data_type == "formula"
                else None
            ),
            "visible": True,
            "read_only": self.read_only,
            "custom_field": self.custom,
            "system_mandatory": self.required,
            "lookup": {},
            "pick_list_values": [
                {"display_value": value, "actual_value": value} for value in self.pick_list
            ],
        }
        target = org.module_id(product, self.lookup_module) if org and self.lookup_module else ""
        if self.lookup_module and self.data_type == "subform":
            # v8 (the official SDK's Subform and MinifiedModule): the module as a plain name
            entry["subform"] = {"module": self.lookup_module, "id": target}
            entry["associated_module"] = {"module": self.lookup_module, "id": target}
        elif self.lookup_module and self.data_type in MULTI_LOOKUP_TYPES and org:
            entry[self.data_type] = org.multi_lookup_details(product, owner, self)
        elif self.lookup_module:
            module = {"api_name": self.lookup_module, **({"id": target} if target else {})}
            entry["lookup"] = {
                "module": module,
                "display_label": self.lookup_module,
                "api_name": self.lookup_module,
            }
        return entry


@dataclass(frozen=True)
class Module:
    """One module of the org."""

    api_name: str
    fields: tuple[Field, ...]
    generated_type: str = "default"
    api_supported: bool = True
    bulk_readable: bool = True
    default_records: int = 100
    name_field: str | None = None
    field_index: dict[str, Field] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.field_index.update({f.api_name: f for f in self.fields})

    @property
    def is_child(self) -> bool:
        """A subform or linking module: rows of another module's field."""
        return self.generated_type in ("subform", "linking")

    def get(self, api_name: str) -> Field | None:
        """Return the field named ``api_name`` (case as Zoho spells it), or None."""
        return self.field_index.get(api_name)

    def metadata(
        self, module_id: str, sequence: int = 1, parent: dict[str, str] | None = None
    ) -> dict[str, object]:
        """Return this module as an entry of ``GET settings/modules`` (v8 keys)."""
        child = self.is_child
        return {
            "id": module_id,
            "api_name": self.api_name,
            "module_name": self.api_name,
            "singular_label": self.api_name.rstrip("s"),
            "plural_label": self.api_name.replace("_", " "),
            "actual_singular_label": self.api_name.rstrip("s"),
            "actual_plural_label": self.api_name.replace("_", " "),
            "generated_type": self.generated_type,
            "api_supported": self.api_supported,
            "viewable": not child,
            "creatable": self.api_supported,
            "editable": self.api_supported,
            "deletable": self.api_supported,
            "convertable": self.api_name in CONVERTIBLE_MODULES,
            "lookupable": not child,
            "quick_create": not child,
            "show_as_tab": not child,
            "global_search_supported": not child,
            "recycle_bin_on_delete": self.api_supported,
            "isBlueprintSupported": not child,
            "feeds_required": False,
            "presence_sub_menu": not child,
            "sub_menu_available": not child,
            "public_fields_configured": False,
            "access_type": "org_based",
            "private_profile": None,
            "has_more_profiles": False,
            "profile_count": 2,
            "profiles": [{"name": "Administrator", "id": "4876543000000026011"}],
            "visibility": 2 if child else 1,
            "sequence_number": sequence,
            "status": "system_hidden" if self.api_name in ("Notes", "Attachments") else "visible",
            "parent_module": parent or {},
            "description": None,
            "web_link": None,
            "arguments": [],
            "business_card_field_limit": 5,
            "modified_time": None,
            "modified_by": None,
        }


@dataclass(frozen=True)
class User:
    """A CRM user; lookups such as ``Owner`` point at users."""

    id: str
    first_name: str
    last_name: str
    email: str

    @property
    def full_name(self) -> str:
        """The user's display name."""
        return f"{self.first_name} {self.last_name}"

    def value(self, attribute: str) -> str | None:
        """Return the attribute named by a dot field such as ``Owner.last_name``."""
        return {
            "id": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "full_name": self.full_name,
            "email": self.email,
        }.get(attribute)


USERS: tuple[User, ...] = (
    User("4876543000000186017", "Patricia", "Boyle", "patricia.boyle@example.com"),
    User("4876543000000186029", "Ravi", "Shankar", "ravi.shankar@example.com"),
    User("4876543000000186041", "Ana", "Lima", "ana.lima@example.com"),
    User("4876543000000186053", "Jonas", "Weber", "jonas.weber@example.com"),
    User("4876543000000186065", "Mei", "Chen", "mei.chen@example.com"),
)
USER_ATTRIBUTES = frozenset({"id", "first_name", "last_name", "full_name", "email"})


@dataclass(frozen=True)
class CustomView:
    """A stored custom view: a module and its criteria (v2 flat shape)."""

    cvid: str
    module: str
    name: str
    criteria: dict[str, object]


# Columns real exports carry that the fields metadata does not list (docs/record-sets.md):
# every record's lock, approval and change log state; a lead's conversion; Zia enrichment.
RECORD_STATE_COLUMNS: tuple[Field, ...] = (
    Field("Locked__s", "boolean"),
    Field("Record_Approval_Status", "picklist", pick_list=("Approved", "Pending")),
    Field("Change_Log_Time__s", "datetime"),
)
ENRICHMENT_COLUMNS: tuple[Field, ...] = (
    Field("Last_Enriched_Time__s", "datetime"),
    Field("Enrich_Status__s", "picklist", pick_list=("Enriched", "Available")),
)
CONVERSION_COLUMNS: tuple[Field, ...] = (
    Field("$converted", "boolean"),
    Field("Converted__s", "boolean"),
    Field("Converted_Date_Time", "datetime"),
    Field("Converted_Account", "lookup", lookup_module="Accounts"),
    Field("Converted_Contact", "lookup", lookup_module="Contacts"),
    Field("Converted_Deal", "lookup", lookup_module="Deals"),
)
CONVERTIBLE_MODULES = frozenset({"Leads"})
ENRICHED_MODULES = frozenset({"Leads", "Contacts"})


def record_state_columns(module: Module) -> tuple[Field, ...]:
    """The unlisted columns a module's exports carry (none for a subform's or link's rows)."""
    if module.is_child:
        return ()
    name = module.api_name
    return (
        (CONVERSION_COLUMNS if name in CONVERTIBLE_MODULES else ())
        + RECORD_STATE_COLUMNS
        + (ENRICHMENT_COLUMNS if name in ENRICHED_MODULES else ())
    )


def _text(name: str, *, required: bool = False, length: int = 255) -> Field:
    return Field(name, "text", required=required, length=length)


def _pick(name: str, *values: str) -> Field:
    return Field(name, "picklist", pick_list=values)


def _multi(name: str, *values: str) -> Field:
    return Field(name, "multiselectpicklist", pick_list=values)


def _lookup(name: str, module: str) -> Field:
    return Field(name, "lookup", lookup_module=module, json_type="jsonobject")


def _parent_lookup(module: str) -> Field:
    """A subform row's link to the record holding it."""
    return Field("Parent_Id", "lookup", lookup_module=module, required=True, read_only=True)


SYSTEM_FIELDS: tuple[Field, ...] = (
    Field("Owner", "ownerlookup", lookup_module="users", required=True),
    Field("Created_By", "userlookup", lookup_module="users", required=True, read_only=True),
    Field("Modified_By", "userlookup", lookup_module="users", required=True, read_only=True),
    Field("Created_Time", "datetime", required=True, read_only=True),
    Field("Modified_Time", "datetime", required=True, read_only=True),
    Field("Last_Activity_Time", "datetime", read_only=True),
    Field("Tag", "text", json_type="jsonarray", read_only=True),
    Field("Layout", "lookup", lookup_module="Layouts", required=True, json_type="jsonobject"),
)
CURRENCY_FIELDS: tuple[Field, ...] = (
    _pick("Currency", "USD", "EUR", "INR"),
    Field("Exchange_Rate", "decimal", decimal_place=9, required=True),
)
# the kinds of a real org's custom columns, text-heavy; datetimes are the system ones
SPARSE_TYPES = ("text", "picklist", "text", "integer", "currency", "date", "boolean", "email",
                "phone", "text")  # fmt: skip
SOURCES = ("Advertisement", "Cold Call", "Web", "Partner", "Trade Show", "Employee Referral")
INDUSTRIES = ("Retail", "Banking", "Healthcare", "Technology", "Education", "Manufacturing")


def _crm_modules() -> tuple[Module, ...]:
    leads = Module(
        "Leads",
        (
            _text("First_Name"),
            _text("Last_Name", required=True),
            _text("Company", required=True),
            Field("Email", "email"),
            Field("Phone", "phone"),
            Field("Website", "website"),
            _pick("Lead_Source", *SOURCES),
            _pick("Lead_Status", "Not Contacted", "Contacted", "Qualified", "Junk Lead"),
            _pick("Industry", *INDUSTRIES),
            Field("No_of_Employees", "integer"),
            Field("Annual_Revenue", "currency", decimal_place=2),
            Field("Description", "textarea", length=32000),
            Field("Email_Opt_Out", "boolean"),
            _multi("Interests", "Analytics", "Automation", "CRM", "Support", "Billing"),
            Field("Lead_Score", "bigint"),
            Field("Probability_Of_Close", "percent"),
            Field("Birth_Date", "date"),
            Field("Record_Image", "profileimage"),
            *CURRENCY_FIELDS,
            *SYSTEM_FIELDS,
        ),
        default_records=1200,
        name_field="Last_Name",
    )
    accounts = Module(
        "Accounts",
        (
            _text("Account_Name", required=True),
            Field("Phone", "phone"),
            Field("Website", "website"),
            _pick("Account_Type", "Customer", "Partner", "Prospect", "Vendor"),
            _pick("Industry", *INDUSTRIES),
            Field("Employees", "integer"),
            Field("Annual_Revenue", "currency", decimal_place=2),
            _lookup("Parent_Account", "Accounts"),
            Field("Account_Number", "bigint"),
            _text("Billing_City"),
            Field("Description", "textarea", length=32000),
            Field(
                "nearby_distance__s", "double", read_only=True, bulk_refused=True, decimal_place=2
            ),
            *CURRENCY_FIELDS,
            *SYSTEM_FIELDS,
        ),
        default_records=200,
        name_field="Account_Name",
    )
    contacts = Module(
        "Contacts",
        (
            _text("First_Name"),
            _text("Last_Name", required=True),
            Field("Email", "email"),
            Field("Secondary_Email", "email"),
            Field("Phone", "phone"),
            _text("Mailing_City"),
            _lookup("Account_Name", "Accounts"),
            _lookup("Reporting_To", "Contacts"),
            _pick("Lead_Source", *SOURCES),
            Field("Date_of_Birth", "date"),
            Field("Email_Opt_Out", "boolean"),
            Field("Description", "textarea", length=32000),
            Field("Linked_Deals", "multiselectlookup", lookup_module="Deals"),
            *SYSTEM_FIELDS,
        ),
        default_records=600,
        name_field="Last_Name",
    )
    deals = Module(
        "Deals",
        (
            _text("Deal_Name", required=True),
            Field("Deal_Number", "autonumber", read_only=True),
            _lookup("Account_Name", "Accounts"),
            _lookup("Contact_Name", "Contacts"),
            Field("Amount", "currency", decimal_place=2),
            _pick(
                "Stage", "Qualification", "Needs Analysis", "Proposal", "Closed Won", "Closed Lost"
            ),
            Field("Probability", "percent"),
            Field("Closing_Date", "date", required=True),
            Field(
                "Expected_Revenue",
                "formula",
                read_only=True,
                return_type="currency",
                decimal_place=2,
            ),
            Field("Is_Big_Deal", "formula", read_only=True, return_type="boolean"),
            Field("Budget_Whole", "currency", decimal_place=0),
            _pick("Type", "New Business", "Existing Business"),
            _pick("Lead_Source", *SOURCES),
            Field("Overall_Sales_Duration", "rollup_summary", read_only=True, decimal_place=2),
            Field("Description", "textarea", length=32000),
            *CURRENCY_FIELDS,
            *SYSTEM_FIELDS,
        ),
        default_records=400,
        name_field="Deal_Name",
    )
    tasks = Module(
        "Tasks",
        (
            _text("Subject", required=True),
            Field("Due_Date", "date"),
            _pick("Status", "Not Started", "In Progress", "Completed", "Deferred"),
            _pick("Priority", "High", "Normal", "Low"),
            _lookup("What_Id", "Accounts"),
            _lookup("Who_Id", "Contacts"),
            Field("Send_Notification_Email", "boolean"),
            Field("Remind_At", "event_reminder"),
            Field("Closed_Time", "datetime"),
            Field("Description", "textarea", length=32000),
            *SYSTEM_FIELDS,
        ),
        default_records=300,
        name_field="Subject",
    )
    events = Module(
        "Events",
        (
            _text("Event_Title", required=True),
            Field("Start_DateTime", "datetime", required=True),
            Field("End_DateTime", "datetime", required=True),
            Field("All_day", "boolean"),
            _text("Venue"),
            _lookup("Who_Id", "Contacts"),
            _lookup("What_Id", "Accounts"),
            Field("Participants", "multiuserlookup", lookup_module="users"),
            Field("Remind_At", "event_reminder"),
            Field("Description", "textarea", length=32000),
            *SYSTEM_FIELDS,
        ),
        default_records=150,
        name_field="Event_Title",
    )
    calls = Module(
        "Calls",
        (
            _text("Subject", required=True),
            _pick("Call_Type", "Inbound", "Outbound", "Missed"),
            Field("Call_Start_Time", "datetime", required=True),
            _text("Call_Duration"),
            Field("Call_Duration_in_seconds", "integer"),
            _pick("Call_Result", "Interested", "Not interested", "No response"),
            _lookup("Who_Id", "Contacts"),
            Field("Billable", "boolean"),
            Field("Description", "textarea", length=32000),
            *SYSTEM_FIELDS,
        ),
        default_records=250,
        name_field="Subject",
    )
    products = Module(
        "Products",
        (
            _text("Product_Name", required=True),
            _text("Product_Code"),
            Field("Unit_Price", "currency", decimal_place=2),
            Field("Qty_in_Stock", "double", decimal_place=2),
            _multi("Tax", "VAT", "Sales Tax", "Service Tax"),
            Field("Product_Active", "boolean"),
            Field("Commission_Rate", "percent"),
            Field("Sales_Start_Date", "date"),
            _pick("Product_Category", "Hardware", "Software", "Services"),
            Field("Record_Image", "imageupload"),
            Field("Manual", "fileupload"),
            Field("Price_Tiers", "subform", lookup_module="Price_Tiers"),
            Field("Description", "textarea", length=32000),
            *SYSTEM_FIELDS,
        ),
        default_records=50,
        name_field="Product_Name",
    )
    projects = Module(
        "Projects",
        (
            _text("Name", required=True),
            Field("Project_Code", "autonumber", read_only=True, custom=True),
            Field("Budget", "currency", decimal_place=2, custom=True),
            Field("Start_Date", "date", custom=True),
            _lookup("Account", "Accounts"),
            Field("Team", "multiuserlookup", lookup_module="users", custom=True),
            Field("Is_Active", "boolean", custom=True),
            Field("Hours_Logged", "double", decimal_place=2, custom=True),
            Field("Priority_Score", "integer", custom=True),
            _pick("Risk_Level", "Low", "Medium", "High"),
            Field("Project_Notes", "textarea", length=32000, custom=True),
            Field(
                "Estimated_Profit",
                "formula",
                read_only=True,
                custom=True,
                return_type="double",
                decimal_place=2,
            ),
            _multi("Skills", "Python", "SQL", "Design", "Sales"),
            Field("Milestones", "subform", lookup_module="Project_Milestones", custom=True),
            *SYSTEM_FIELDS,
        ),
        generated_type="custom",
        default_records=120,
        name_field="Name",
    )
    wide_fields: list[Field] = [_text("Name", required=True)]
    wide_types = ("text", "integer", "decimal", "boolean", "date", "picklist", "currency")
    for number in range(1, 231):
        data_type = wide_types[number % len(wide_types)]
        wide_fields.append(
            Field(
                f"Field_{number:03d}",
                data_type,
                custom=True,
                decimal_place=2 if data_type in ("decimal", "currency") else None,
                pick_list=("Alpha", "Beta", "Gamma") if data_type == "picklist" else (),
            )
        )
    wide = Module(
        "Wide_Records",
        (*wide_fields, *SYSTEM_FIELDS),
        generated_type="custom",
        default_records=30,
        name_field="Name",
    )
    sparse = Module(  # a real org's export: wide, mostly empty, a few long multi-line notes
        "Sparse_Records",
        (
            _text("Name", required=True),
            *(
                Field(
                    f"Column_{number:03d}",
                    SPARSE_TYPES[number % len(SPARSE_TYPES)],
                    custom=True,
                    filled=10,
                    decimal_place=2
                    if SPARSE_TYPES[number % len(SPARSE_TYPES)] == "currency"
                    else None,
                    pick_list=("Alpha", "Beta", "Gamma") if number % len(SPARSE_TYPES) == 1 else (),
                )
                for number in range(1, 181)
            ),
            Field("Description", "textarea", length=32000, custom=True, filled=11),
            Field("Long_Notes", "textarea", length=32000, custom=True, filled=1),
            *SYSTEM_FIELDS,
        ),
        generated_type="custom",
        default_records=200,
        name_field="Name",
    )
    notes = Module(
        "Notes",
        (_text("Note_Title"), Field("Note_Content", "textarea"), *SYSTEM_FIELDS[:5]),
        bulk_readable=False,
        default_records=40,
    )
    attachments = Module(
        "Attachments",
        (_text("File_Name"), Field("Size", "bigint"), *SYSTEM_FIELDS[:5]),
        bulk_readable=False,
        default_records=10,
    )
    emails = Module(
        "Emails",
        (_text("Subject"), Field("Content", "textarea"), *SYSTEM_FIELDS[:5]),
        bulk_readable=False,
        default_records=10,
    )
    linking = Module(
        "Contacts_X_Deals",
        (
            Field("Contact", "lookup", lookup_module="Contacts", required=True),
            Field("Deal", "lookup", lookup_module="Deals", required=True),
            *SYSTEM_FIELDS[:5],
        ),
        generated_type="linking",
        default_records=900,
    )
    team_linking = Module(  # a multi-user lookup's linking module: bulk read refuses it
        "Projects_X_Users",
        (_lookup("Project", "Projects"), Field("User", "userlookup", lookup_module="users")),
        generated_type="linking",
        bulk_readable=False,
        default_records=0,
    )
    price_tiers = Module(  # no Created_Time/Modified_Time: a full-table child stream
        "Price_Tiers",
        (
            Field("Tier_Price", "currency", decimal_place=2, required=True),
            Field("Min_Qty", "integer", required=True),
            _parent_lookup("Products"),
        ),
        generated_type="subform",
        default_records=140,
    )
    quotes = Module(
        "Quotes",
        (
            _text("Subject", required=True),
            Field("Quote_Number", "autonumber", read_only=True),
            _lookup("Deal_Name", "Deals"),
            _lookup("Account_Name", "Accounts"),
            _pick("Quote_Stage", "Draft", "Negotiation", "Delivered", "Closed Won"),
            Field("Valid_Till", "date"),
            Field("Grand_Total", "currency", decimal_place=2, read_only=True),
            Field("Quoted_Items", "subform", lookup_module="Quoted_Items"),
            *CURRENCY_FIELDS,
            *SYSTEM_FIELDS,
        ),
        default_records=160,
        name_field="Subject",
    )
    quoted_items = Module(
        "Quoted_Items",
        (
            _lookup("Product_Name", "Products"),
            Field("Quantity", "double", decimal_place=2, required=True),
            Field("List_Price", "currency", decimal_place=2),
            Field("Discount", "currency", decimal_place=2),
            Field("Total", "currency", decimal_place=2, read_only=True),
            _text("Description"),
            _parent_lookup("Quotes"),
            *SYSTEM_FIELDS[3:5],
        ),
        generated_type="subform",
        default_records=520,
    )
    milestones = Module(
        "Project_Milestones",
        (
            _text("Milestone", required=True),
            Field("Due_On", "date", custom=True),
            Field("Done", "boolean", custom=True),
            Field("Weight", "decimal", decimal_place=2, custom=True),
            _parent_lookup("Projects"),
            *SYSTEM_FIELDS[3:5],
        ),
        generated_type="subform",
        default_records=300,
    )
    return (
        leads,
        contacts,
        accounts,
        deals,
        tasks,
        events,
        calls,
        products,
        projects,
        wide,
        sparse,
        notes,
        attachments,
        emails,
        linking,
        price_tiers,
        quotes,
        quoted_items,
        milestones,
        team_linking,
    )


def _bigin_modules(crm: dict[str, Module]) -> tuple[Module, ...]:
    pipelines = Module(
        "Pipelines",
        (
            _text("Deal_Name", required=True),
            _lookup("Account_Name", "Accounts"),
            _lookup("Contact_Name", "Contacts"),
            Field("Amount", "currency", decimal_place=2),
            _pick("Stage", "Qualification", "Proposal", "Negotiation", "Closed Won", "Closed Lost"),
            _pick("Pipeline", "Sales Pipeline", "Renewals"),
            Field("Closing_Date", "date"),
            Field("Description", "textarea", length=32000),
            *SYSTEM_FIELDS,
        ),
        default_records=300,
        name_field="Deal_Name",
    )
    contacts = Module(
        "Contacts",
        (
            _text("First_Name"),
            _text("Last_Name", required=True),
            Field("Email", "email"),
            Field("Mobile", "phone"),
            _lookup("Account_Name", "Accounts"),
            _text("Title"),
            Field("Email_Opt_Out", "boolean"),
            Field("Description", "textarea", length=32000),
            *SYSTEM_FIELDS,
        ),
        default_records=300,
        name_field="Last_Name",
    )
    accounts = Module(
        "Accounts",
        (
            _text("Account_Name", required=True),
            Field("Phone", "phone"),
            Field("Website", "website"),
            _text("Billing_City"),
            Field("Description", "textarea", length=32000),
            *SYSTEM_FIELDS,
        ),
        default_records=100,
        name_field="Account_Name",
    )
    return (
        pipelines,
        contacts,
        accounts,
        Module("Products", crm["Products"].fields[:10] + SYSTEM_FIELDS, default_records=40),
        Module("Tasks", crm["Tasks"].fields, default_records=100, name_field="Subject"),
        Module("Events", crm["Events"].fields, default_records=60, name_field="Event_Title"),
        Module("Calls", crm["Calls"].fields, default_records=80, name_field="Subject"),
        Module("Notes", crm["Notes"].fields, bulk_readable=False, default_records=10),
    )


@dataclass(frozen=True)
class Org:
    """Both products' module sets, the users and the custom views."""

    modules: dict[str, dict[str, Module]]
    custom_views: dict[str, CustomView]

    def module(self, product: str, api_name: str) -> Module | None:
        """Return a module of ``product`` ("crm" or "bigin") by API name, or None."""
        return self.modules[product].get(api_name)

    def field_id(self, product: str, module: str, position: int) -> str:
        """A field's id, unique in the org."""
        base = 4_876_543_000_010_000_000 if product == "crm" else 4_876_543_000_020_000_000
        return str(base + list(self.modules[product]).index(module) * 1000 + position)

    def parent_of(self, product: str, api_name: str) -> dict[str, str]:
        """``parent_module`` of a child module: the module holding its subform or lookup."""
        parent = self.child_modules(product).get(api_name)
        return {"api_name": parent, "id": self.module_id(product, parent)} if parent else {}

    def linking_module(self, product: str, owner: str, connected: str) -> str:
        """The linking module of a multi-select lookup from ``owner`` to ``connected``."""
        for module in self.modules[product].values():
            targets = {f.lookup_module for f in module.fields}
            if module.generated_type == "linking" and {owner, connected} <= targets:
                return module.api_name
        return ""

    def multi_lookup_details(self, product: str, owner: str, item: Field) -> dict[str, object]:
        """A multi-select lookup's ``multiselectlookup`` entry, in Zoho's v8 shape.

        The official v8 SDK's ``Multiselectlookup``: ``linking_details`` {``module`` (the
        linking module), ``lookup_field`` (its lookup to ``owner``), ``connected_lookup_field``
        (its lookup to the connected module)}, ``connected_details``, ``related_list`` and
        ``record_access``.
        """
        connected = item.lookup_module or ""
        linking = self.linking_module(product, owner, connected)

        def module(name: str) -> dict[str, object]:
            found = {"api_name": name, "id": self.module_id(product, name),
                     "plural_label": name.replace("_", " "), "visibility": 1}  # fmt: skip
            return {key: value for key, value in found.items() if value != ""}  # users: no id

        def lookup_to(target: str) -> dict[str, object]:
            fields = self.modules[product][linking].fields if linking else ()
            for position, candidate in enumerate(fields):
                if candidate.lookup_module == target:
                    return {
                        "api_name": candidate.api_name,
                        "id": self.field_id(product, linking, position),
                        "field_label": candidate.api_name.replace("_", " "),
                    }
            return {}

        return {
            "linking_details": {
                "module": module(linking) if linking else {},
                "lookup_field": lookup_to(owner),
                "connected_lookup_field": lookup_to(connected),
            },
            "connected_details": {
                "field": {"api_name": f"{owner}_{connected}", "field_label": item.api_name},
                "module": module(connected),
                "layouts": [],
            },
            "related_list": {
                "api_name": item.api_name,
                "display_label": item.api_name.replace("_", " "),
                **({"id": self.module_id(product, linking)} if linking else {}),
            },
            "record_access": False,
        }

    def child_modules(self, product: str) -> dict[str, str]:
        """Each subform and linking module's parent: the module whose field holds its rows."""
        found = {}
        for module in self.modules[product].values():
            for item in module.fields:
                if item.data_type == "subform" and item.lookup_module:
                    found[item.lookup_module] = module.api_name
                elif item.data_type in MULTI_LOOKUP_TYPES and item.lookup_module:
                    linking = self.linking_module(product, module.api_name, item.lookup_module)
                    if linking:
                        found[linking] = module.api_name
        return found

    def module_id(self, product: str, api_name: str) -> str:
        """The module's id in the org (unique across both products), "" when unknown."""
        names = list(self.modules[product])
        if api_name not in names:
            return ""
        base = 4_876_543_000_000_002_000 if product == "crm" else 4_876_543_000_000_003_000
        return str(base + names.index(api_name))


def build_org() -> Org:
    """Return the synthetic org (the same every time)."""
    crm = {m.api_name: m for m in _crm_modules()}
    bigin = {m.api_name: m for m in _bigin_modules(crm)}
    views = (
        CustomView(
            "4876543000000087501",
            "Leads",
            "Open Leads",
            {"api_name": "Lead_Status", "comparator": "not_equal", "value": "Junk Lead"},
        ),
        CustomView(
            "4876543000000087513",
            "Deals",
            "Big Deals",
            {"api_name": "Amount", "comparator": "greater_equal", "value": 50000},
        ),
    )
    return Org({"crm": crm, "bigin": bigin}, {v.cvid: v for v in views})
