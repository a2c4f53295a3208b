"""One module per dashboard page (TITLE, APPLIES, `render(context)`), each run by its view script in
streamlit/views/ through `ecomm.dashboard.layout.show`."""

# (view script in streamlit/views/, title, icon); the first is the default page
PAGES = (
    ("overview", "Overview", ":material/dashboard:"),
    ("sales", "Sales", ":material/payments:"),
    ("customers", "Customers", ":material/groups:"),
    ("segments", "Segments", ":material/category:"),
    ("churn_risk", "Churn risk", ":material/person_remove:"),
    ("recommendations", "Recommendations", ":material/recommend:"),
    ("demand", "Demand & stock", ":material/inventory_2:"),
    ("campaigns", "Campaigns", ":material/campaign:"),
    ("models", "Models", ":material/model_training:"),
    ("monitoring", "Monitoring", ":material/monitor_heart:"),
)
